"""The observatory node's configuration sections: site, safety sources and monitor, roof,
exports and notifications (``ObservatoryConfig`` in ``common.config`` puts them together)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .config_base import Section
from .contracts import NODE_NAME_PATTERN


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
