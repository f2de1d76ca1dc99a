"""Versioned message contracts between roles.

Every message on the wire is JSON with a ``schema`` name and an integer
``version``. Compatible changes add optional fields; incompatible ones bump
the version. ``parse_message`` validates on receipt and raises
``InvalidMessage`` with a reason a person can act on.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NODE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class InvalidMessage(Exception):
    """A message that can never be processed; it belongs in the dead-letter queue."""

    def __init__(self, reason: str, body: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.body = body


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    SCHEMA: ClassVar[str]
    VERSION: ClassVar[int] = 1

    schema_: str = Field(alias="schema", default="")
    version: int = 1

    def model_post_init(self, __context: Any) -> None:
        # Fill the envelope so callers never type it by hand.
        object.__setattr__(self, "schema_", self.SCHEMA)
        object.__setattr__(self, "version", self.VERSION)

    def to_wire(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), separators=(",", ":"))


class IngestFrame(Message):
    """Job: a frame waits at ``key`` in the object store (claim check)."""

    SCHEMA: ClassVar[str] = "obsy.ingest_frame"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    key: str = Field(min_length=1, max_length=1024)
    size: int = Field(gt=0)
    sha256: str = Field(pattern=SHA256_PATTERN)
    filename: str | None = None
    captured_at: datetime | None = None
    sent_at: datetime = Field(default_factory=utcnow)


class FrameIngested(Message):
    """Event: the master holds the frame; the node may drop its spool copy."""

    SCHEMA: ClassVar[str] = "obsy.frame_ingested"
    sha256: str = Field(pattern=SHA256_PATTERN)
    node: str | None = None
    frame_id: int
    key: str
    duplicate: bool = False
    frame_type: str | None = None
    object_name: str | None = None
    accepted: bool | None = None


class FrameRejected(Message):
    """Event: the master could not ingest a frame and says why."""

    SCHEMA: ClassVar[str] = "obsy.frame_rejected"
    sha256: str | None = None
    node: str | None = None
    key: str | None = None
    reason: str
    # retry: the node should upload and claim again (its copy is the good one);
    # otherwise the master kept the object at kept_key and the node may let go.
    retry: bool = False
    kept_key: str | None = None


class NodeHeartbeat(Message):
    """Event: a node is alive, with what it is doing and its backlog."""

    SCHEMA: ClassVar[str] = "obsy.node_heartbeat"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    role: Literal["telescope", "observatory", "remote", "master"]
    software_version: str
    state: str = "idle"
    spool_backlog: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)
    sent_at: datetime = Field(default_factory=utcnow)


class ExposureRow(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    filter_name: str | None = None
    exposure_s: float = Field(ge=0, le=36_000)
    count: int = Field(ge=1, le=10_000)
    frame_type: Literal["light", "dark", "flat", "bias"] = "light"
    binning: int = Field(default=1, ge=1, le=8)
    gain: float | None = None
    offset: float | None = None


class ScheduledTarget(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    ra_deg: float = Field(ge=0, lt=360)
    dec_deg: float = Field(ge=-90, le=90)
    rows: list[ExposureRow] = Field(min_length=1)
    # Optional (version 1 readers ignore them): how to take the frames.
    dither_every: int | None = Field(default=None, ge=1, le=1000)  # frames between dithers; None: off
    focus_at_start: bool = False
    focus_every_min: float | None = Field(default=None, gt=0, le=1440)
    focus_temp_delta: float | None = Field(default=None, gt=0, le=50)  # °C
    calibration: bool = False  # darks/flats after the night: no tracking, no twilight limit


class ScheduleJob(Message):
    """Job: a telescope node images these targets in order, then parks."""

    SCHEMA: ClassVar[str] = "obsy.schedule_job"
    job_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    node: str = Field(pattern=NODE_NAME_PATTERN)
    targets: list[ScheduledTarget] = Field(min_length=1)
    park_at_end: bool = True
    # A re-plan: the node stops this earlier job (running: after aborting its exposure, without
    # parking; queued: not started) and runs this one instead. Frames already taken are kept.
    replaces: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    sent_at: datetime = Field(default_factory=utcnow)


JOB_STATES = ("queued", "started", "slewing", "exposing", "frame", "done", "failed", "interrupted")


class JobProgress(Message):
    """Event: what a telescope node is doing with a schedule job."""

    SCHEMA: ClassVar[str] = "obsy.job_progress"
    job_id: str
    node: str
    state: Literal["queued", "started", "slewing", "exposing", "frame", "done", "failed", "interrupted"]
    target: str | None = None
    filter_name: str | None = None
    frame_index: int | None = None  # 1-based, over the whole job
    frame_total: int | None = None
    sha256: str | None = None
    reason: str | None = None
    sent_at: datetime = Field(default_factory=utcnow)


class SafetyState(Message):
    """Event: an observatory node's verdict on the sky."""

    SCHEMA: ClassVar[str] = "obsy.safety_state"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    state: Literal["safe", "unsafe", "unknown"]
    reasons: list[str] = Field(default_factory=list)
    sent_at: datetime = Field(default_factory=utcnow)


ROOF_STATES = ("closed", "opening", "open", "closing", "error", "unknown")


class RoofState(Message):
    """Event: an observatory node's roof (or dome shutter), on every change."""

    SCHEMA: ClassVar[str] = "obsy.roof_state"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    state: Literal["closed", "opening", "open", "closing", "error", "unknown"]
    since: datetime | None = None  # when the roof entered this state
    # what the controller is doing: idle, parking, closing, opening, waiting_park, blocked, alarm
    activity: str = "idle"
    alarm: str | None = None
    alarm_level: Literal["warning", "critical"] | None = None
    mount_parked: dict[str, bool | None] = Field(default_factory=dict)  # park source -> parked (None: stale)
    sent_at: datetime = Field(default_factory=utcnow)


class MountReport(Message):
    """Event: a telescope node's mount is parked or not, as its backend last read it."""

    SCHEMA: ClassVar[str] = "obsy.mount_report"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    parked: bool | None  # None: the node could not read its mount
    reason: str | None = None
    sent_at: datetime = Field(default_factory=utcnow)


ROOF_ACTIONS = ("open", "close", "park", "acknowledge")


class RoofCommand(Message):
    """Event: a person asks an observatory node to open or close its roof, park the mount, or
    acknowledge an alarm. Not a durable job: a command that arrives late is refused, never
    carried out hours after it was given."""

    SCHEMA: ClassVar[str] = "obsy.roof_command"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    action: Literal["open", "close", "park", "acknowledge"]
    command_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    user: str = Field(default="", max_length=120)
    sent_at: datetime = Field(default_factory=utcnow)


class RoofCommandResult(Message):
    """Event: what an observatory node did with a ``RoofCommand``."""

    SCHEMA: ClassVar[str] = "obsy.roof_command_result"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    command_id: str
    action: str
    accepted: bool
    reason: str | None = None
    sent_at: datetime = Field(default_factory=utcnow)


class ParkRequest(Message):
    """Event: an observatory node asks a telescope node to park its mount now (roof interlock)."""

    SCHEMA: ClassVar[str] = "obsy.park_request"
    node: str = Field(pattern=NODE_NAME_PATTERN)  # the telescope node that should park
    requested_by: str = Field(pattern=NODE_NAME_PATTERN)
    reason: str = ""
    sent_at: datetime = Field(default_factory=utcnow)


class WeatherReport(Message):
    """Event: an observatory node's latest weather readings (every fresh numeric or yes/no value of
    its sources), sent every ``publish_every_s`` so the master can keep a history and show it."""

    SCHEMA: ClassVar[str] = "obsy.weather_report"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    measured_at: datetime
    # quantity -> value, e.g. {"ambient_c": 4.5, "humidity": 81, "rain": False}; a quantity two
    # sources report is named "<source>.<quantity>" for the second
    values: dict[str, float | bool] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    sent_at: datetime = Field(default_factory=utcnow)


class CloudMap(Message):
    """Event: an observatory node's all-sky cloud cover, overall and per alt/az region, for each
    newly judged all-sky image (so the planner can prefer the clear parts of the sky)."""

    SCHEMA: ClassVar[str] = "obsy.cloud_map"
    node: str = Field(pattern=NODE_NAME_PATTERN)
    source: str
    taken_at: datetime
    label: str
    cloud_fraction: float | None = None
    # each: alt_min, alt_max, az_min, az_max (degrees), cloud_fraction (None: not judged), ...
    regions: list[dict[str, Any]] = Field(default_factory=list)
    sent_at: datetime = Field(default_factory=utcnow)


class RebuildMaster(Message):
    """Job: rebuild the master of one calibration group if its frames changed (idempotent)."""

    SCHEMA: ClassVar[str] = "obsy.rebuild_master"
    kind: Literal["bias", "dark", "dark_flat", "flat"]
    camera: str | None = None
    binning_x: int | None = None
    binning_y: int | None = None
    gain: float | None = None
    offset: float | None = None
    temperature: float | None = None   # set point bucketed to the tolerance; None for flats
    exposure_s: float | None = None    # darks and dark-flats only
    filter_name: str | None = None     # flats only


class MasterBuilt(Message):
    """Event: a new master of a calibration group is in the library."""

    SCHEMA: ClassVar[str] = "obsy.master_built"
    master_id: int
    kind: str
    key: str
    n_inputs: int
    superseded_id: int | None = None


class UpdateLiveStack(Message):
    """Job: add one ingested, accepted light frame to its night's live stack."""

    SCHEMA: ClassVar[str] = "obsy.update_live_stack"
    frame_id: int


class LiveStackUpdated(Message):
    """Event: a live stack has one more frame; ``preview_key`` is its PNG."""

    SCHEMA: ClassVar[str] = "obsy.live_stack_updated"
    night: str
    target: str
    filter_name: str
    key: str
    preview_key: str
    n_frames: int
class SolexJob(Message):
    """Job: rebuild the Sol'ex disk of one filed SER capture and store the products."""

    SCHEMA: ClassVar[str] = "obsy.solex_job"
    ser_capture_id: int = Field(gt=0)
    shifts: list[float] = Field(default_factory=lambda: [0.0], max_length=20)


class PhotometryJob(Message):
    """Job: run one ``photometry_runs`` request over its target's accepted light frames."""

    SCHEMA: ClassVar[str] = "obsy.photometry_job"
    run_id: int = Field(gt=0)


class TransitJob(Message):
    """Job: fit a transit to a photometry run's light curve (one ``transit_fits`` request)."""

    SCHEMA: ClassVar[str] = "obsy.transit_job"
    transit_fit_id: int = Field(gt=0)


class FinalStackJob(Message):
    """Job: calibrate and stack a target's accepted lights (one filter or each, one night or all) into products."""

    SCHEMA: ClassVar[str] = "obsy.final_stack_job"
    target_name: str = Field(min_length=1, max_length=200)
    filter_name: str | None = Field(default=None, max_length=60)       # None: every filter, each on its own
    night: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")  # None: across every night
    method: Literal["mean", "median"] = "mean"
    sigma: float | None = Field(default=3.0, gt=0, le=20)            # None: no clipping
    weights: Literal["quality", "none"] = "quality"                   # quality: star count / HFR^2 from ingest


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.SCHEMA: cls for cls in (IngestFrame, FrameIngested, FrameRejected, NodeHeartbeat, ScheduleJob,
                                JobProgress, SafetyState, RoofState, MountReport, RoofCommand, RoofCommandResult,
                                ParkRequest, CloudMap, WeatherReport, RebuildMaster, MasterBuilt, UpdateLiveStack,
                                LiveStackUpdated, SolexJob, PhotometryJob, TransitJob, FinalStackJob)
}


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(message)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_message(raw: Any, expected: type[Message] | None = None) -> Message:
    """Validate a wire message (bytes, str or dict) into its model."""
    body = raw
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"message is not UTF-8 text: {exc}", body) from None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidMessage(f"message is not JSON: {exc}", body) from None
    if not isinstance(raw, dict):
        raise InvalidMessage(f"message must be a JSON object, got {type(raw).__name__}", body)
    schema = raw.get("schema")
    cls = MESSAGE_TYPES.get(schema) if isinstance(schema, str) else None
    if cls is None:
        raise InvalidMessage(f"unknown message schema {schema!r}", body)
    if expected is not None and cls is not expected:
        raise InvalidMessage(f"expected schema {expected.SCHEMA!r}, got {schema!r}", body)
    version = raw.get("version")
    if version != cls.VERSION:
        raise InvalidMessage(
            f"schema {schema!r} version {version!r} is not supported (this software reads version {cls.VERSION})",
            body,
        )
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise InvalidMessage(f"invalid {schema}: {_describe(exc)}", body) from None
