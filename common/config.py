"""Configuration: one TOML file per role, ``OBSY_*`` environment overrides.

Validated at start-up: a wrong value stops the process with a message that
names the key, the value and what is allowed. Nested keys are overridden with
a double underscore, e.g. ``OBSY_STORE__KIND=s3``.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from . import paths
from .config_base import ConfigError, Section
from .config_observatory import (AlpacaConfig, BoltwoodExportConfig, NotifyConfig, ObservatoryNodeConfig, RoofConfig,
                                 SafetyConfig, SiteConfig)
from .contracts import NODE_NAME_PATTERN




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
    link_expiry_s: int = Field(default=3600, ge=60, le=7 * 86400,
                               description="s3: how long a presigned download link on a frame page stays valid (S3 allows 7 days at most)")

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


class PlannerConfig(Section):
    """The night planner's own re-plans during the night (after unsafe periods, under clouds)."""

    auto_replan: bool = Field(default=True, description="re-plan by itself when the sky or the safety verdict changes")
    replan_every_min: float = Field(default=20.0, ge=1, le=720, description="at most one automatic re-plan per node this often")


class LibraryConfig(Section):
    """The calibration library and live stacks the worker builds from ingested frames."""

    min_frames: int = Field(default=5, ge=1, le=1000, description="frames a calibration group needs for a master")
    temp_tolerance_c: float = Field(default=2.0, gt=0, le=20, description="set points closer than this share a master")
    debounce_s: float = Field(default=30.0, ge=0, le=3600, description="wait after a calibration frame before rebuilding, so a batch makes one master")
    live_stack: bool = Field(default=True, description="update a live stack per target, filter and night")


class NodesConfig(Section):
    offline_after_s: float = Field(default=120.0, gt=0, description="a node silent this long is shown offline")


class CatalogConfig(Section):
    """Online lookups: names at CDS when the offline catalogue does not know them; AAVSO VSP charts."""

    enabled: bool = Field(default=True, description="false: search only the offline catalogue (OpenNGC)")
    sesame_url: str = Field(default="https://cds.unistra.fr/cgi-bin/nph-sesame",
                            pattern=r"^https?://\S+$", description="CDS Sesame name resolver (SIMBAD, NED, VizieR)")
    resolvers: str = Field(default="SNV", pattern=r"^[SNVA]{1,4}$",
                           description="Sesame resolvers in the order asked: S SIMBAD, N NED, V VizieR, A all")
    timeout_s: float = Field(default=4.0, gt=0, le=30, description="give up on an answer after this long")
    cache_days: float = Field(default=30.0, ge=0, description="keep a name that was found this long")
    miss_cache_hours: float = Field(default=6.0, ge=0, description="keep a name that was not found this long")
    vsp_url: str = Field(default="https://app.aavso.org/vsp/api/chart", pattern=r"^https?://\S+$",
                         description="AAVSO VSP chart API (comparison stars for photometry, kept cache_days)")
    exoplanet_archive_url: str = Field(default="https://exoplanetarchive.ipac.caltech.edu/TAP/sync",
                                       pattern=r"^https?://\S+$",
                                       description="NASA Exoplanet Archive TAP (transit priors, kept cache_days)")


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
    planner: PlannerConfig = Field(default_factory=PlannerConfig)


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
