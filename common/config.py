"""Configuration: one TOML file per role, ``OBSY_*`` environment overrides.

Validated at start-up: a wrong value stops the process with a message that
names the key, the value and what is allowed. Nested keys are overridden with
a double underscore, e.g. ``OBSY_STORE__KIND=s3``.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from . import paths
from .contracts import NODE_NAME_PATTERN


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(Section):
    url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in the data directory")

    def resolved_url(self) -> str:
        return self.url or f"sqlite:///{paths.data_dir() / 'obsy.db'}"


class StoreConfig(Section):
    kind: Literal["local", "s3"] = "local"
    path: str = Field(default="", description="local: repository directory; empty means the data directory")
    endpoint: str = Field(default="", description="s3: host:port of the S3 server")
    access_key: str = ""
    secret_key: str = ""
    bucket: str = "obsy"
    secure: bool = True
    region: str = ""

    @model_validator(mode="after")
    def _s3_needs_endpoint(self):
        if self.kind == "s3" and not self.endpoint:
            raise ValueError("store.kind is 's3' but store.endpoint is empty: give host:port of the S3 server")
        return self

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else paths.data_dir() / "repository"


class BrokerConfig(Section):
    kind: Literal["embedded", "rabbitmq"] = "embedded"
    url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/%2F", description="rabbitmq: AMQP URL")


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    secret_key: str = Field(default="", description="Flask secret key; empty means one generated and kept in the data directory")
    public_url: str = ""
    session_hours: float = Field(default=12, gt=0, description="a portal login lasts this long")


class WorkerConfig(Section):
    processes: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=2, ge=1, le=64)


class LibraryConfig(Section):
    """The calibration library and live stacks the worker builds from ingested frames."""

    min_frames: int = Field(default=5, ge=1, le=1000, description="frames a calibration group needs for a master")
    temp_tolerance_c: float = Field(default=2.0, gt=0, le=20, description="set points closer than this share a master")
    debounce_s: float = Field(default=30.0, ge=0, le=3600, description="wait after a calibration frame before rebuilding, so a batch makes one master")
    live_stack: bool = Field(default=True, description="update a live stack per target, filter and night")


class NodesConfig(Section):
    offline_after_s: float = Field(default=120.0, gt=0, description="a node silent this long is shown offline")


class CatalogConfig(Section):
    """Online name lookup at CDS, used when the offline catalogue does not know a name."""

    enabled: bool = Field(default=True, description="false: search only the offline catalogue (OpenNGC)")
    sesame_url: str = Field(default="https://cds.unistra.fr/cgi-bin/nph-sesame",
                            pattern=r"^https?://\S+$", description="CDS Sesame name resolver (SIMBAD, NED, VizieR)")
    resolvers: str = Field(default="SNV", pattern=r"^[SNVA]{1,4}$",
                           description="Sesame resolvers in the order asked: S SIMBAD, N NED, V VizieR, A all")
    timeout_s: float = Field(default=4.0, gt=0, le=30, description="give up on an answer after this long")
    cache_days: float = Field(default=30.0, ge=0, description="keep a name that was found this long")
    miss_cache_hours: float = Field(default=6.0, ge=0, description="keep a name that was not found this long")


class NodeIdentity(Section):
    name: str = Field(default="scope1", pattern=NODE_NAME_PATTERN)
    site: str = "home"


class SpoolConfig(Section):
    path: str = Field(default="", description="empty means <data dir>/spool/<node name>")
    resend_after_s: float = Field(default=60.0, gt=0, description="re-claim a frame the master has not confirmed after this long")
    retry_max_s: float = Field(default=30.0, gt=0, description="longest back-off between upload attempts")


class SimulatorConfig(Section):
    free_run: bool = Field(default=False, description="capture the targets below in a loop without any schedule (demo)")
    time_scale: float = Field(default=1.0, gt=0, le=10_000, description="simulated seconds per wall-clock second for scheduled exposures")
    frame_interval_s: float = Field(default=5.0, gt=0, description="wall-clock seconds between simulated frames")
    exposure_s: float = Field(default=120.0, gt=0, description="exposure written in the simulated header")
    max_frames: int = Field(default=0, ge=0, description="stop after this many frames; 0 means never")
    width: int = Field(default=1280, ge=64, le=16384)
    height: int = Field(default=1024, ge=64, le=16384)
    targets: list[str] = Field(default_factory=lambda: ["M31", "M42", "NGC 7000"])
    filters: list[str] = Field(default_factory=lambda: ["L", "R", "G", "B"])


class IndiConfig(Section):
    """The INDI backend: indiserver address, which devices to drive, and how long to wait."""

    host: str = Field(default="127.0.0.1", description="indiserver host")
    port: int = Field(default=7624, ge=1, le=65535, description="indiserver port")
    mount: str = Field(default="", description="mount device name; empty means the first telescope device")
    camera: str = Field(default="", description="camera device name; empty means the first CCD device")
    wheel: str = Field(default="", description="filter wheel device name; empty means the first device that is only a filter wheel, else the camera's own")
    focuser: str = Field(default="", description="focuser device name; empty means the first focuser (used only with focus_position)")
    focus_position: int = Field(default=-1, ge=-1, description="absolute focuser position to move to on connect; -1 leaves the focuser alone")
    filter_aliases: list[str] = Field(default_factory=list, description='schedule filter = wheel slot name, e.g. ["L=Luminance", "Ha=H_Alpha"]; single letters also match the one slot name they start')
    cooler: bool = Field(default=False, description="turn the camera cooler to cooler_setpoint_c on connect")
    cooler_setpoint_c: float = Field(default=-10.0, ge=-100, le=50)
    site_from_mount: bool = Field(default=True, description="true: read the site from the mount's GEOGRAPHIC_COORD; false: write site_* below to it on connect")
    site_latitude_deg: float = Field(default=0.0, ge=-90, le=90)
    site_longitude_deg: float = Field(default=0.0, ge=-180, le=180, description="east positive")
    site_elevation_m: float = Field(default=0.0, ge=-500, le=9000)
    connect_timeout_s: float = Field(default=15.0, gt=0, description="server connection and each device's CONNECTION")
    slew_timeout_s: float = Field(default=180.0, gt=0)
    slew_tolerance_arcsec: float = Field(default=60.0, gt=0, description="a slew that ends farther than this from the target fails")
    park_timeout_s: float = Field(default=120.0, gt=0, description="park and unpark (the INDI telescope simulator parks in about 27 s)")
    filter_timeout_s: float = Field(default=60.0, gt=0)
    focus_timeout_s: float = Field(default=120.0, gt=0)
    exposure_margin_s: float = Field(default=60.0, gt=0, description="wait this much longer than the exposure for the image (readout, download)")

    @model_validator(mode="after")
    def _aliases(self):
        check_filter_aliases(self.filter_aliases)
        return self

    def alias_map(self) -> dict[str, str]:
        return filter_alias_map(self.filter_aliases)


def check_filter_aliases(aliases: list[str]) -> None:
    for alias in aliases:
        name, sep, slot = alias.partition("=")
        if not sep or not name.strip() or not slot.strip():
            raise ValueError(f"filter_aliases entry {alias!r} must look like 'L=Luminance'")


def filter_alias_map(aliases: list[str]) -> dict[str, str]:
    return {name.strip(): slot.strip() for name, _, slot in (a.partition("=") for a in aliases)}


class EkosConfig(Section):
    """The EKOS backend: KStars on a D-Bus session bus runs each schedule with its own scheduler."""

    dbus_address: str = Field(default="", description="D-Bus session bus of KStars; empty means $DBUS_SESSION_BUS_ADDRESS")
    start_kstars: bool = Field(default=True, description="start KStars when it is not on the bus (false: attach only)")
    kstars_command: str = Field(default="kstars", min_length=1)
    display: str = Field(default="", description="X display for a KStars OBSY starts; empty means $DISPLAY")
    kstars_home: str = Field(default="", description="HOME for a KStars OBSY starts (its kstarsrc and Ekos profiles); empty means the node's HOME")
    profile: str = Field(default="OBSY", min_length=1, description="Ekos equipment profile the scheduler uses")
    create_profile: bool = Field(default=False, description="create or re-point `profile` as a remote profile at indi_host:indi_port before starting KStars")
    indi_host: str = Field(default="127.0.0.1", description="indiserver of the created profile")
    indi_port: int = Field(default=7624, ge=1, le=65535)
    profile_drivers: list[str] = Field(
        default_factory=lambda: ["Mount=Telescope Simulator", "CCD=CCD Simulator", "Filter=Filter Simulator",
                                 "Focuser=Focuser Simulator"],
        description="role=driver label of the created profile (roles: Mount, CCD, Guider, Focuser, Filter, Dome, Weather, AO, Dustcap, Lightbox, GPS, Rotator, Aux1-4); Ekos will not start a profile without drivers")
    work_dir: str = Field(default="", description="where generated .esl/.esq files and captures go; empty means <spool>/ekos")
    steps: list[Literal["Track", "Focus", "Align", "Guide"]] = Field(
        default_factory=lambda: ["Track"], description="scheduler steps per target; add Focus, Align, Guide when the profile has what they need")
    enforce_twilight: bool = Field(default=True, description="let EKOS wait for astronomical darkness")
    min_altitude_deg: float = Field(default=0.0, ge=0, le=90, description="EKOS job constraint; 0 leaves it off")
    filter_aliases: list[str] = Field(default_factory=list, description='schedule filter = Ekos filter name, e.g. ["R=Red", "Ha=H_Alpha"]')
    start_timeout_s: float = Field(default=60.0, gt=0, description="KStars taking its D-Bus name after start")
    ekos_timeout_s: float = Field(default=90.0, gt=0, description="Ekos started with the profile and its devices connected")
    call_timeout_s: float = Field(default=10.0, gt=0, description="each D-Bus call; a KStars that does not answer in time is reported hung")
    park_timeout_s: float = Field(default=180.0, gt=0)
    max_job_hours: float = Field(default=16.0, gt=0, le=48, description="a schedule still running after this long is stopped and failed")

    @model_validator(mode="after")
    def _aliases(self):
        check_filter_aliases(self.filter_aliases)
        for entry in self.profile_drivers:
            role, sep, label = entry.partition("=")
            if not sep or not role.strip() or not label.strip():
                raise ValueError(f"profile_drivers entry {entry!r} must look like 'Mount=Telescope Simulator'")
        return self

    def alias_map(self) -> dict[str, str]:
        return filter_alias_map(self.filter_aliases)

    def driver_roles(self) -> list[tuple[str, str]]:
        return [(role.strip(), label.strip()) for role, _, label in (d.partition("=") for d in self.profile_drivers)]


MQTT_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # one MQTT topic level: no '/', '+' or '#'


class MqttConfig(Section):
    """The MQTT broker that carries live state (``<topic_prefix>/<site>/...``)."""

    host: str = Field(default="", description="broker host; empty means no live publishing")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = ""
    password: str = ""
    tls: bool = Field(default=False, description="connect with TLS (system CA certificates)")
    topic_prefix: str = Field(default="obsy", pattern=MQTT_NAME_PATTERN, description="first topic level")
    site: str = Field(default="home", pattern=MQTT_NAME_PATTERN, description="second topic level: the site's name")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600, description="longest back-off between reconnects")
    home_assistant: bool = Field(default=False, description="also publish Home Assistant MQTT discovery configs")
    discovery_prefix: str = Field(default="homeassistant", pattern=MQTT_NAME_PATTERN)


class RoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBSY_", env_nested_delimiter="__", extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (tests) > environment > TOML file
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class MasterConfig(RoleSettings):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    nodes: NodesConfig = Field(default_factory=NodesConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    library: LibraryConfig = Field(default_factory=LibraryConfig)


class TelescopeConfig(RoleSettings):
    backend: Literal["simulator", "indi", "ekos"] = Field(default="simulator", description="what runs schedule jobs")
    node: NodeIdentity = Field(default_factory=NodeIdentity)
    store: StoreConfig = Field(default_factory=StoreConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    indi: IndiConfig = Field(default_factory=IndiConfig)
    ekos: EkosConfig = Field(default_factory=EkosConfig)
    heartbeat_s: float = Field(default=15.0, gt=0)


class ObservatoryNodeConfig(Section):
    name: str = Field(default="roof1", pattern=NODE_NAME_PATTERN)


class SiteConfig(Section):
    name: str = "home"
    latitude_deg: float = Field(default=0.0, ge=-90, le=90, description="geodetic latitude, north positive")
    longitude_deg: float = Field(default=0.0, ge=-180, le=180, description="longitude, east positive")
    elevation_m: float = Field(default=0.0, ge=-500, le=9000)


class ThresholdConfig(Section):
    """A limit with hysteresis on one value of a source's reading (give a pair, or both pairs)."""

    unsafe_above: float | None = Field(default=None, description="unsafe when the value is above this")
    safe_below: float | None = Field(default=None, description="safe again at or below this; default unsafe_above")
    unsafe_below: float | None = Field(default=None, description="unsafe when the value is below this")
    safe_above: float | None = Field(default=None, description="safe again at or above this; default unsafe_below")
    unsafe_after_s: float = Field(default=0.0, ge=0, description="the value must stay beyond the unsafe limit this long before a safe source turns unsafe; 0 means at once")

    @model_validator(mode="after")
    def _pairs(self):
        if self.unsafe_above is None and self.unsafe_below is None:
            raise ValueError("a threshold needs unsafe_above or unsafe_below")
        if self.safe_below is not None and self.unsafe_above is None:
            raise ValueError("safe_below needs unsafe_above")
        if self.safe_above is not None and self.unsafe_below is None:
            raise ValueError("safe_above needs unsafe_below")
        if self.unsafe_above is not None and self.safe_below is not None and self.safe_below > self.unsafe_above:
            raise ValueError(f"safe_below {self.safe_below} must not be above unsafe_above {self.unsafe_above}")
        if self.unsafe_below is not None and self.safe_above is not None and self.safe_above < self.unsafe_below:
            raise ValueError(f"safe_above {self.safe_above} must not be below unsafe_below {self.unsafe_below}")
        return self


SAFETY_SOURCE_TYPES = ("boltwood", "json", "csv", "sun", "kp", "ovation", "smoke", "indi_weather", "rain_serial",
                       "rain_command", "allsky")
#: types whose reading is a rain flag: it is always unsafe at once
RAIN_SOURCE_TYPES = ("rain_serial", "rain_command")
#: line speeds a rain_serial source may use (termios has a constant for each)
SERIAL_BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
#: types that read the standard output of a command
COMMAND_SOURCE_TYPES = ("json", "rain_command")
#: types that may be fetched over HTTP instead of read from a file
FEED_SOURCE_TYPES = ("kp", "ovation", "smoke")
#: be polite to NOAA: its products change every few minutes at most
MIN_FEED_CADENCE_S = 60.0


def _check_zone(zone: str, what: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError(f"{what} {zone!r} is not an IANA time zone such as 'Europe/Paris'") from None


def _check_unique(names: list[str], what: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")


def _check_url(name: str, url: str) -> None:
    from datetime import datetime, timezone
    from urllib.parse import urlsplit

    try:
        rendered = url.format(now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"source {name!r}: url {url!r} has a placeholder other than {{now:...}} "
                         f"(strftime codes, e.g. {{now:%Y%m%d}}): {exc}") from None
    parts = urlsplit(rendered)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"source {name!r}: url {url!r} is not an http:// or https:// URL with a host")


class SafetySourceConfig(Section):
    name: str = Field(pattern=NODE_NAME_PATTERN, description="unique name of the source")
    type: Literal["boltwood", "json", "csv", "sun", "kp", "ovation", "smoke", "indi_weather", "rain_serial",
                  "rain_command", "allsky"]
    path: str = Field(default="", description="file to read (every type but sun and rain_command; json may use command instead; kp, ovation and smoke may use url instead); rain_serial: the serial device, e.g. /dev/ttyUSB0; allsky: an image file another program overwrites, or a folder (its newest image)")
    url: str = Field(default="", description="kp, ovation, smoke: fetch this URL every cadence_s into the cache; {now:%Y%m%d}-style placeholders take the UTC time")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="url: give up a fetch after this long; indi_weather: connection timeout; rain_command: the command's time limit")
    indi_host: str = Field(default="127.0.0.1", description="indi_weather: indiserver host")
    indi_port: int = Field(default=7624, ge=1, le=65535, description="indi_weather: indiserver port")
    device: str = Field(default="", description="indi_weather: weather device name, e.g. 'Weather Simulator'")
    command: str = Field(default="", description="json: command whose standard output is the JSON reading; rain_command: command that reads the contact, e.g. 'gpioget gpiochip0 17'")
    baud: int = Field(default=9600, description="rain_serial: line speed (1200 .. 115200)")
    send: str = Field(default="", description="rain_serial: text written to the sensor at every read, for sensors that answer only when asked (e.g. \"R\\n\")")
    pattern: str = Field(default="", description="rain_serial, rain_command: regular expression with one group, the number that decides; default '^\\s*R\\s*(\\d+)' (serial, 'R 0'/'R 1') or the first number in the output (command)")
    wet_above: float | None = Field(default=None, description="rain_serial, rain_command: wet when the number is above this (default 0)")
    wet_below: float | None = Field(default=None, description="rain_serial, rain_command: wet when the number is below this instead (an active-low contact: wet_below = 1)")
    decide: Literal["output", "exit_code"] = Field(default="output", description="rain_command: the number in the output decides, or the exit status (wet_exit / dry_exit; any other status is unknown)")
    wet_exit: int = Field(default=1, description="rain_command with decide = 'exit_code': this status means wet")
    dry_exit: int = Field(default=0, description="rain_command with decide = 'exit_code': this status means dry")
    sky_model: str = Field(default="", description="allsky: the camera's sky model (TOML from 'obsy clouds calibrate --write'); empty: found in each image")
    min_altitude_deg: float | None = Field(default=None, ge=0, lt=90, description="allsky: ignore the sky below this altitude (default 20)")
    reference_density: float | None = Field(default=None, ge=0, description="allsky: stars per steradian this camera shows on a clear night (the clear_density 'obsy clouds classify' reports)")
    indi_allsky_db: str = Field(default="", description="allsky: indi-allsky's SQLite database (e.g. /var/lib/indi-allsky/indi-allsky.sqlite); its newest image is used instead of path")
    image_root: str = Field(default="", description="allsky with indi_allsky_db: the folder its relative image file names are under")
    cadence_s: float = Field(default=60.0, gt=0, description="read the source this often")
    max_age_s: float = Field(default=300.0, gt=0, description="older data is stale, which makes the source unknown")
    required: bool = Field(default=True, description="false: advisory, reported but never changes the state")
    timezone: str = Field(default="UTC", description="IANA zone of times written without an offset (Boltwood writes local time)")
    thresholds: dict[str, ThresholdConfig] = Field(default_factory=dict, description="reading value name -> limits")
    unsafe_flags: list[str] | None = Field(default=None, description="boolean values that are unsafe at once while true; default ['rain'] for boltwood/json/csv, [] otherwise")
    within_km: float = Field(default=50.0, gt=0, le=2000, description="smoke: count smoke polygons this close to the site")

    def _check_feed(self) -> None:
        _check_url(self.name, self.url)
        if self.cadence_s < MIN_FEED_CADENCE_S:
            raise ValueError(f"source {self.name!r}: cadence_s {self.cadence_s:g} is too often for a "
                             f"network feed; use {MIN_FEED_CADENCE_S:g} s or more")
        # read on the cadence, the cached copy is one cadence old: it must still be fresh then
        if self.max_age_s <= self.cadence_s:
            raise ValueError(f"source {self.name!r}: max_age_s {self.max_age_s:g} must be larger than "
                             f"cadence_s {self.cadence_s:g} for a url source")

    def _check_rain(self) -> None:
        import re

        where = f"source {self.name!r}"
        if self.type == "rain_serial":
            if not self.path or self.command:
                raise ValueError(f"{where}: type 'rain_serial' needs path (the serial device) and no command")
            if self.baud not in SERIAL_BAUD_RATES:
                raise ValueError(f"{where}: baud {self.baud} is not one of {', '.join(map(str, SERIAL_BAUD_RATES))}")
        elif not self.command or self.path:
            raise ValueError(f"{where}: type 'rain_command' needs command and no path")
        if self.wet_above is not None and self.wet_below is not None:
            raise ValueError(f"{where}: give wet_above or wet_below, not both")
        if self.pattern:
            try:
                groups = re.compile(self.pattern).groups
            except re.error as exc:
                raise ValueError(f"{where}: pattern {self.pattern!r} is not a regular expression: {exc}") from None
            if groups != 1:
                raise ValueError(f"{where}: pattern {self.pattern!r} needs exactly one group (the number)")
        if self.wet_exit == self.dry_exit:
            raise ValueError(f"{where}: wet_exit and dry_exit must differ")

    @model_validator(mode="after")
    def _inputs(self):
        if self.command and self.type not in COMMAND_SOURCE_TYPES:
            raise ValueError(f"source {self.name!r}: only types {', '.join(COMMAND_SOURCE_TYPES)} may use command")
        if self.url and self.type not in FEED_SOURCE_TYPES:
            raise ValueError(f"source {self.name!r}: only types {', '.join(FEED_SOURCE_TYPES)} may use url")
        if self.device and self.type != "indi_weather":
            raise ValueError(f"source {self.name!r}: only type 'indi_weather' takes device")
        if self.type == "sun":
            if self.path:
                raise ValueError(f"source {self.name!r}: type 'sun' is computed and takes no path or command")
        elif self.type == "indi_weather":
            if self.path:
                raise ValueError(f"source {self.name!r}: type 'indi_weather' reads an INDI device and takes no path")
            if not self.device.strip():
                raise ValueError(f"source {self.name!r}: type 'indi_weather' needs device (the INDI device name, "
                                 "e.g. 'Weather Simulator')")
        elif self.type in RAIN_SOURCE_TYPES:
            self._check_rain()
        elif self.type == "json":
            if bool(self.path) == bool(self.command):
                raise ValueError(f"source {self.name!r}: type 'json' needs exactly one of path and command")
        elif self.type == "allsky":
            if bool(self.path) == bool(self.indi_allsky_db):
                raise ValueError(f"source {self.name!r}: type 'allsky' needs exactly one of path and indi_allsky_db")
        elif self.type in FEED_SOURCE_TYPES:
            if bool(self.path) == bool(self.url):
                raise ValueError(f"source {self.name!r}: type {self.type!r} needs exactly one of path and url")
            if self.url:
                self._check_feed()
        elif not self.path:
            raise ValueError(f"source {self.name!r}: type {self.type!r} needs path")
        _check_zone(self.timezone, f"source {self.name!r}: timezone")
        if self.unsafe_flags is None:
            self.unsafe_flags = ["rain"] if self.type in ("boltwood", "json", "csv", *RAIN_SOURCE_TYPES) else []
        if self.type in RAIN_SOURCE_TYPES and "rain" not in self.unsafe_flags:
            raise ValueError(f"source {self.name!r}: a rain sensor's 'rain' is always unsafe; keep it in unsafe_flags")
        if self.type == "sun" and not self.thresholds:
            self.thresholds = {"sun_altitude_deg": ThresholdConfig(unsafe_above=-12.0)}
        if self.type == "allsky" and not self.thresholds:
            self.thresholds = {"cloud_fraction": ThresholdConfig(unsafe_above=0.5, safe_below=0.3)}
        allsky_keys = [k for k in ("sky_model", "min_altitude_deg", "reference_density", "indi_allsky_db", "image_root")
                       if getattr(self, k)]
        if allsky_keys and self.type != "allsky":
            raise ValueError(f"source {self.name!r}: only type 'allsky' takes {', '.join(allsky_keys)}")
        return self


_SOURCES_EXAMPLE = (
    "safety sources, as [[safety.sources]] tables (delete 'sources = []' below when you add some), e.g."
    "\n# [[safety.sources]]\n# name = \"cloudwatcher\"\n# type = \"boltwood\"   # " + " | ".join(SAFETY_SOURCE_TYPES)
    + "\n# path = \"/var/lib/boltwood/oneline.txt\"\n# cadence_s = 10\n# max_age_s = 120\n# required = true"
    "\n# timezone = \"Europe/Paris\"\n# unsafe_flags = [\"rain\", \"wet\"]"
    "\n# thresholds = { wind_kmh = { unsafe_above = 40, safe_below = 30 }, humidity = { unsafe_above = 95, safe_below = 90 } }"
    "\n# [[safety.sources]]\n# name = \"weather\"\n# type = \"indi_weather\"   # WEATHER_STATUS lights decide; WEATHER_PARAMETERS are values"
    "\n# indi_host = \"127.0.0.1\"\n# indi_port = 7624\n# device = \"Weather Simulator\"\n# cadence_s = 5\n# max_age_s = 60"
    "\n# [[safety.sources]]\n# name = \"rg9\"\n# type = \"rain_serial\"   # lines such as 'R 0' (dry) / 'R 3' (wet)"
    "\n# path = \"/dev/ttyUSB0\"\n# baud = 9600\n# cadence_s = 2\n# max_age_s = 30"
    "\n# [[safety.sources]]\n# name = \"rain_contact\"\n# type = \"rain_command\"   # a GPIO contact, active low"
    "\n# command = \"gpioget gpiochip0 17\"\n# wet_below = 1\n# timeout_s = 5\n# cadence_s = 5\n# max_age_s = 30"
    "\n# [[safety.sources]]\n# name = \"allsky\"\n# type = \"allsky\"   # the newest image in a folder, or one file"
    "\n# path = \"/var/www/allsky/images/latest\"\n# sky_model = \"/etc/obsy/allsky.toml\"\n# cadence_s = 60\n# max_age_s = 600"
    "\n# thresholds = { cloud_fraction = { unsafe_above = 0.5, safe_below = 0.3 } }"
    "\n# [[safety.sources]]\n# name = \"sun\"\n# type = \"sun\"\n# thresholds = { sun_altitude_deg = { unsafe_above = -12 } }"
    "\n# [[safety.sources]]\n# name = \"kp\"\n# type = \"kp\"   # path = a file, or url = fetched and cached"
    "\n# url = \"https://services.swpc.noaa.gov/products/noaa-planetary-k-index-forecast.json\""
    "\n# cadence_s = 900\n# max_age_s = 14400\n# timeout_s = 10\n# required = false"
    "\n# thresholds = { kp = { unsafe_above = 6, safe_below = 5 } }"
    "\n# # observed Kp only: https://services.swpc.noaa.gov/products/noaa-planetary-k-index.json"
    "\n# # type ovation: https://services.swpc.noaa.gov/json/ovation_aurora_latest.json"
    "\n# # type smoke (one KML a day, {now:...} is the UTC time): https://satepsanone.nesdis.noaa.gov"
    "\n# #   /pub/FIRE/web/HMS/Smoke_Polygons/KML/{now:%Y}/{now:%m}/hms_smoke{now:%Y%m%d}.kml"
)


class SafetyConfig(Section):
    min_safe_minutes: float = Field(default=15.0, ge=0, le=1440, description="conditions must stay safe this long before the state returns to safe")
    tick_s: float = Field(default=1.0, gt=0, le=60, description="how often the node loop checks which sources are due")
    cache_dir: str = Field(default="", description="where url sources keep their last good response; empty means <data dir>/cache/safety")
    sources: list[SafetySourceConfig] = Field(default_factory=list, description=_SOURCES_EXAMPLE)

    @model_validator(mode="after")
    def _unique(self):
        _check_unique([s.name for s in self.sources], "source names")
        return self


class RoofConfig(Section):
    """The roof (or dome shutter) and the two independent "is the mount parked" sources."""

    kind: Literal["none", "simulator", "indi"] = Field(default="none", description="none: no roof control")
    indi_host: str = Field(default="127.0.0.1", description="indi: indiserver with the roof and the mount")
    indi_port: int = Field(default=7624, ge=1, le=65535)
    device: str = Field(default="RollOff Simulator", description="indi: roof or dome device name")
    style: Literal["rolloff", "shutter"] = Field(default="rolloff", description="rolloff: DOME_PARK moves the roof; shutter: DOME_SHUTTER")
    mount_device: str = Field(default="Telescope Simulator", description="indi: mount read directly for TELESCOPE_PARK")
    telescope_node: str = Field(default="scope1", pattern=NODE_NAME_PATTERN, description="telescope node whose mount reports are the second park source")
    park_max_age_s: float = Field(default=60.0, gt=0, description="a park report older than this counts as not parked")
    park_timeout_s: float = Field(default=180.0, gt=0, description="wait this long for both sources to say parked before a CRITICAL alarm")
    motion_timeout_s: float = Field(default=60.0, gt=0, description="a roof move that takes longer is an error")
    min_safe_s: float = Field(default=900.0, ge=0, description="never reopen sooner than this after the sky was last not safe (the monitor applies its own too)")
    auto_open: bool = Field(default=False, description="open by itself when the sky turns safe; false: only on a manual command")
    state_file: str = Field(default="", description="where the last roof state is written; empty means the data directory")
    command_max_age_s: float = Field(default=30.0, gt=0, le=600, description="a command from the portal older than this when it arrives is refused, not carried out late")


class BoltwoodExportConfig(Section):
    """OBSY's verdict as a Boltwood Cloud Sensor II one-line data file, for software that reads one."""

    path: str = Field(default="", description="file rewritten (atomically) on every verdict; empty means no file")
    timezone: str = Field(default="", description="IANA zone of the date and time written; empty means this machine's local time, as Boltwood writes")

    @model_validator(mode="after")
    def _zone(self):
        if self.timezone:
            _check_zone(self.timezone, "boltwood_export.timezone")
        return self


class AlpacaConfig(Section):
    """OBSY's verdict as a read-only ASCOM Alpaca SafetyMonitor (device 0) over HTTP."""

    enabled: bool = Field(default=False, description="serve the Alpaca SafetyMonitor")
    host: str = Field(default="127.0.0.1", description="bind address; 0.0.0.0 serves every interface (needed for clients on other machines)")
    port: int = Field(default=11111, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    discovery: bool = Field(default=False, description="answer Alpaca discovery ('alpacadiscovery1') on UDP discovery_port at host; LAN broadcasts reach it only with host = 0.0.0.0")
    discovery_port: int = Field(default=32227, ge=1, le=65535)
    location: str = Field(default="", description="shown by the management API's description")
    verdict_max_age_s: float = Field(default=30.0, gt=0, description="IsSafe is false when the node's latest verdict is older than this (a stuck loop)")


_CHANNELS_EXAMPLE = (
    "where notices go, as [[notify.channels]] tables (delete 'channels = []' below when you add some), e.g."
    "\n# [[notify.channels]]\n# name = \"mail\"\n# kind = \"email\""
    "\n# smtp_host = \"smtp.example.org\"\n# smtp_port = 587\n# security = \"starttls\"   # starttls | ssl | plain"
    "\n# username = \"observatory@example.org\"\n# password = \"secret\""
    "\n# sender = \"observatory@example.org\"\n# to = [\"me@example.org\"]"
    "\n# [[notify.channels]]\n# name = \"phone\"\n# kind = \"webhook\"\n# format = \"ntfy\"   # plain text, Title/Priority/Tags headers"
    "\n# url = \"https://ntfy.sh/my-secret-observatory-topic\""
    "\n# [[notify.channels]]\n# name = \"pushover\"\n# kind = \"webhook\"\n# format = \"pushover\""
    "\n# url = \"https://api.pushover.net/1/messages.json\"\n# fields = { token = \"APP_TOKEN\", user = \"USER_KEY\" }"
    "\n# [[notify.channels]]\n# name = \"home\"\n# kind = \"webhook\"\n# format = \"json\"   # Home Assistant: trigger.json.state etc."
    "\n# url = \"http://homeassistant.local:8123/api/webhook/obsy-roof1\""
)


class NotifyChannelConfig(Section):
    """One place notices go: an e-mail (SMTP) or a webhook (ntfy, Pushover, Home Assistant, any JSON endpoint)."""

    name: str = Field(pattern=NODE_NAME_PATTERN, description="unique name of the channel, used in logs")
    kind: Literal["email", "webhook"]
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="give up one attempt after this long")
    smtp_host: str = Field(default="", description="email: SMTP server")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="email: 587 for starttls, 465 for ssl, 25 for plain")
    security: Literal["starttls", "ssl", "plain"] = Field(default="starttls", description="email: how the connection is protected")
    ca_file: str = Field(default="", description="email: CA certificate(s) to trust instead of the system's")
    username: str = Field(default="", description="email: SMTP login; empty means no login")
    password: str = Field(default="", description="email: SMTP password")
    sender: str = Field(default="", description="email: From address")
    to: list[str] = Field(default_factory=list, description="email: recipients")
    url: str = Field(default="", description="webhook: http:// or https:// URL")
    method: Literal["POST", "PUT"] = Field(default="POST", description="webhook: HTTP method")
    format: Literal["json", "ntfy", "pushover"] = Field(default="json", description="webhook: body format")
    headers: dict[str, str] = Field(default_factory=dict, description="webhook: extra HTTP headers, e.g. Authorization")
    fields: dict[str, str | int | float | bool] = Field(default_factory=dict, description="webhook json/pushover: extra body fields (Pushover: token, user)")

    @model_validator(mode="after")
    def _kind(self):
        where = f"notify channel {self.name!r}"
        if self.kind == "email":
            if not self.smtp_host.strip():
                raise ValueError(f"{where}: kind 'email' needs smtp_host")
            if "@" not in self.sender:
                raise ValueError(f"{where}: sender {self.sender!r} is not an e-mail address")
            bad = [a for a in self.to if "@" not in a]
            if not self.to or bad:
                raise ValueError(f"{where}: to must list e-mail addresses; got {self.to!r}")
            if self.password and not self.username:
                raise ValueError(f"{where}: password given without username")
        else:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{where}: url {self.url!r} is not an http:// or https:// URL with a host")
        return self


class NotifyConfig(Section):
    """Notices on safety changes and roof alarms; off until enabled with at least one channel."""

    enabled: bool = Field(default=False, description="send notices")
    on_safety: bool = Field(default=True, description="notify when the safety state changes (safe, unsafe, unknown)")
    on_alarms: bool = Field(default=True, description="notify on roof alarms")
    min_interval_s: float = Field(default=300.0, ge=0, description="at most one safety notice this often, and each alarm once in this time, so a flapping source does not spam")
    attempts: int = Field(default=3, ge=1, le=10, description="tries per notice and channel before it is logged as lost")
    retry_s: float = Field(default=5.0, ge=0, le=600, description="pause before a retry (doubled, tripled... per attempt)")
    channels: list[NotifyChannelConfig] = Field(default_factory=list, description=_CHANNELS_EXAMPLE)

    @model_validator(mode="after")
    def _channels(self):
        _check_unique([c.name for c in self.channels], "notify channel names")
        if self.enabled and not self.channels:
            raise ValueError("notify is enabled but has no [[notify.channels]]")
        return self


class ObservatoryConfig(RoleSettings):
    node: ObservatoryNodeConfig = Field(default_factory=ObservatoryNodeConfig)
    site: SiteConfig = Field(default_factory=SiteConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    roof: RoofConfig = Field(default_factory=RoofConfig)
    boltwood_export: BoltwoodExportConfig = Field(default_factory=BoltwoodExportConfig)
    alpaca: AlpacaConfig = Field(default_factory=AlpacaConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    publish_every_s: float = Field(default=30.0, gt=0, description="republish the safety state this often even when it does not change")


class RemoteWebConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535, description="0 picks a free port")
    threads: int = Field(default=16, ge=2, le=256, description="waitress threads; each open live page holds one")
    max_streams: int = Field(default=12, ge=1, le=250, description="live pages served at once; more get 503 and retry")
    title: str = "OBSY observatory"
    master_url: str = Field(default="", description="public base URL of the master portal, for frame links; empty: no links")


class RemoteGalleryConfig(Section):
    master_api_url: str = Field(default="", pattern=r"^(https?://\S+)?$",
                                description="base URL the remote node reads the master's public API from "
                                            "(may be an internal address); empty: web.master_url; both empty: "
                                            "no gallery")
    token: str = Field(default="", description="optional API token sent as 'Authorization: Bearer'")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="per request to the master")
    refresh_s: float = Field(default=300.0, ge=5, le=86400, description="how often the gallery is fetched again")
    max_items: int = Field(default=60, ge=1, le=500, description="public targets kept in the gallery")


class RemoteMqttConfig(MqttConfig):
    host: str = Field(default="127.0.0.1", min_length=1, description="broker host")


class RemoteConfig(RoleSettings):
    mqtt: RemoteMqttConfig = Field(default_factory=RemoteMqttConfig)
    web: RemoteWebConfig = Field(default_factory=RemoteWebConfig)
    gallery: RemoteGalleryConfig = Field(default_factory=RemoteGalleryConfig)


ROLE_CONFIGS: dict[str, type[RoleSettings]] = {
    "master": MasterConfig,
    "telescope": TelescopeConfig,
    "observatory": ObservatoryConfig,
    "remote": RemoteConfig,
}


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(file)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (value {item['input']!r}); check its spelling")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key} = {item['input']!r}: {item['msg']}")
    return "\n".join(lines)


def load_config(role: str, path: str | Path | None = None, **overrides) -> RoleSettings:
    """Read the role's TOML file (if it exists, or if given) plus OBSY_* overrides."""
    try:
        cls = ROLE_CONFIGS[role]
    except KeyError:
        raise ConfigError(f"unknown role {role!r}; allowed: {', '.join(sorted(ROLE_CONFIGS))}") from None
    explicit = path is not None
    path = Path(path) if explicit else paths.default_config_path(role)
    if explicit and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        try:
            with path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": path}})
    else:
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": None}})
    try:
        return bound(**overrides)
    except ValidationError as exc:
        where = f"config file {path}" if path.is_file() else "configuration"
        raise ConfigError(f"{where} (with OBSY_* environment overrides) has invalid values:\n{_format_errors(exc)}") from None
