"""What OBSY knows of KStars/EKOS scheduler lists (``.esl``) and sequence queues (``.esq``).

Everything the model does not name is kept in ``extras`` / ``extra_attrs`` of the
object that owned it, so that reading and writing a file gives the same
information back (see ``xmlio.Extra``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .xmlio import Extra, ExtraAttr

STEPS = ("Track", "Focus", "Align", "Guide")
FRAME_TYPES = ("Light", "Dark", "Bias", "Flat")


# ---------------------------------------------------------------- scheduler list


@dataclass
class Condition:
    """A startup or completion condition: ``kind`` as KStars names it, optional value.

    Startup: ``ASAP``, ``At`` (value: ISO date-time), ``Culmination`` (older files,
    value: offset in minutes). Completion: ``Sequence``, ``Repeat`` (value: count),
    ``Loop``, ``At`` (value: ISO date-time).
    """

    kind: str
    value: str | None = None


@dataclass
class Constraints:
    min_altitude: float | None = None
    moon_separation: float | None = None
    enforce_weather: bool = False
    enforce_twilight: bool = False
    enforce_artificial_horizon: bool = False


@dataclass
class Procedure:
    """A startup or shutdown step such as ``UnparkMount``; value is a script path when it has one."""

    name: str
    value: str | None = None


@dataclass
class ErrorHandling:
    strategy: int | None = None
    delay: int | None = None
    reschedule_errors: bool = False


@dataclass
class SchedulerJob:
    name: str
    ra_hours: float
    dec_deg: float
    priority: int | None = None  # versions before 1.6 have it
    group: str | None = None
    position_angle: float | None = None
    rotation: float | None = None  # older name of the position angle
    fits_file: str | None = None
    sequence: str | None = None
    startup: Condition | None = field(default_factory=lambda: Condition("ASAP"))
    constraints: Constraints = field(default_factory=Constraints)
    completion: Condition | None = field(default_factory=lambda: Condition("Sequence"))
    steps: list[str] = field(default_factory=lambda: list(STEPS))
    extras: list[Extra] = field(default_factory=list)
    extra_attrs: list[ExtraAttr] = field(default_factory=list)

    @property
    def repeats(self) -> int | None:
        if self.completion is not None and self.completion.kind == "Repeat" and self.completion.value:
            return int(float(self.completion.value))
        return None


@dataclass
class SchedulerList:
    version: str = "1.6"
    profile: str | None = "Default"
    jobs: list[SchedulerJob] = field(default_factory=list)
    algorithm: int | None = None
    error_handling: ErrorHandling | None = None
    startup_procedure: list[Procedure] | None = field(default_factory=list)
    shutdown_procedure: list[Procedure] | None = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    extra_attrs: list[ExtraAttr] = field(default_factory=list)


# ---------------------------------------------------------------- sequence queue


@dataclass
class Toggle:
    """A setting written as ``<Name enabled='true'>value</Name>``."""

    enabled: bool
    value: float | None = None


@dataclass
class Frame:
    x: int
    y: int
    w: int
    h: int


@dataclass
class Prefix:
    """The file-name prefix of older sequence files (before placeholders)."""

    raw_prefix: str = ""
    filter_enabled: bool = False
    exp_enabled: bool = False
    timestamp_enabled: bool = False


@dataclass
class Calibration:
    flat_source: str | None = None  # Manual, DustCap, Wall, DarkFlat...
    flat_duration: str | None = None  # Manual or ADU
    adu: float | None = None
    tolerance: float | None = None
    dark: bool | None = None  # FlatDuration@dark
    pre_action: int | None = None
    pre_mount_park: bool | None = None  # older files
    pre_dome_park: bool | None = None


@dataclass
class SequenceJob:
    exposure: float
    count: int = 1
    filter: str | None = None
    frame_type: str = "Light"
    bin_x: int = 1
    bin_y: int = 1
    frame: Frame | None = None
    temperature: float | None = None
    temperature_force: bool | None = None
    delay: float | None = 0
    format: str | None = None
    encoding: str | None = None
    prefix: Prefix | None = None
    target_name: str | None = None
    guide_dither_per_job: int | None = None
    fits_directory: str | None = None
    remote_directory: str | None = None
    placeholder_format: str | None = None
    placeholder_suffix: int | None = None
    upload_mode: int | None = None
    format_index: int | None = None
    gain: float | None = None
    offset: float | None = None
    # Where gain/offset live: "VECTOR/ELEMENT" inside <Properties>, or the tag of a
    # job-level element such as "Gain" or "GainSpin".
    gain_location: str = "CCD_GAIN/GAIN"
    offset_location: str = "CCD_OFFSET/OFFSET"
    # Other INDI properties: vector name -> element name -> value text.
    properties: dict[str, dict[str, str]] | None = field(default_factory=dict)
    calibration: Calibration | None = None
    extras: list[Extra] = field(default_factory=list)
    extra_attrs: list[ExtraAttr] = field(default_factory=list)


@dataclass
class SequenceQueue:
    version: str = "2.6"
    observer: str | None = None
    ccd: str | None = None
    filter_wheel: str | None = None
    guide_deviation: Toggle | None = None
    guide_start_deviation: Toggle | None = None
    autofocus: Toggle | None = None  # older files: HFR autofocus
    refocus_on_temperature_delta: Toggle | None = None
    refocus_every_n: Toggle | None = None
    refocus_on_meridian_flip: Toggle | None = None
    meridian_flip: Toggle | None = None
    jobs: list[SequenceJob] = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    extra_attrs: list[ExtraAttr] = field(default_factory=list)


# Top-level <X enabled='...'>value</X> settings of a sequence queue, in KStars' order.
QUEUE_TOGGLES = (
    ("guide_deviation", "GuideDeviation"),
    ("guide_start_deviation", "GuideStartDeviation"),
    ("autofocus", "Autofocus"),
    ("refocus_on_temperature_delta", "RefocusOnTemperatureDelta"),
    ("refocus_every_n", "RefocusEveryN"),
    ("refocus_on_meridian_flip", "RefocusOnMeridianFlip"),
    ("meridian_flip", "MeridianFlip"),
)


def to_dict(obj: SchedulerList | SequenceQueue) -> dict:
    """A JSON-ready dict of a parsed file, with its ``kind``."""
    return {"kind": type(obj).__name__, **asdict(obj)}
