"""Live state over MQTT: topic names, per-topic QoS/retention, and payload models.

The master publishes, the remote node (and Home Assistant, or anything else that speaks MQTT)
subscribes to ``<prefix>/<site>/#``. Every payload is a small JSON object with a ``schema`` name
and an integer ``version`` (the same envelope as ``common.contracts``) and is validated on receipt
with :func:`parse_live`.

Topics under ``<prefix>/<site>/`` (prefix ``obsy`` by default):

============== ===== ======== ======================== =============================================
leaf           QoS   retained schema                   carries
============== ===== ======== ======================== =============================================
status         1     yes      obsy.live.status         ``online``/``offline`` of the master's
                                                       publisher; ``offline`` is its MQTT will
safety         1     yes      obsy.live.safety         latest SafetyState (safe/unsafe/unknown)
roof/<node>    1     yes      obsy.live.roof           an observatory node's roof: state, what
                                                       its controller is doing, alarm
mount/<node>   1     yes      obsy.live.mount          a telescope node's mount: parked or not
job            1     yes      obsy.live.job            latest JobProgress of the current job
frame/latest   1     yes      obsy.live.frame          last ingested frame: target, filter,
                                                       exposure, time, stars, HFR, preview path
nodes/<node>   1     yes      obsy.live.node           summary of the node's last heartbeat
stack/<target> 1     yes      obsy.live.stack          the target's latest live stack update: night,
                                                       filter, frame count, preview and viewer keys
weather        1     yes      obsy.live.weather        reserved (not published yet)
activity       0     no       obsy.live.activity       one line per notable event, for a ticker;
                                                       missing one is harmless
============== ===== ======== ======================== =============================================

State topics are retained with QoS 1, so a subscriber that arrives later gets the current picture
at once and a reconnect never loses the latest value. ``activity`` is transient: QoS 0, not
retained, dropped while the broker is away.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError

from .contracts import (
    FrameIngested,
    InvalidMessage,
    JobProgress,
    LiveStackUpdated,
    Message,
    MountReport,
    NodeHeartbeat,
    RoofState,
    SafetyState,
    utcnow,
)

DEFAULT_PREFIX = "obsy"


@dataclass(frozen=True)
class TopicSpec:
    leaf: str  # below <prefix>/<site>/; "nodes/+" stands for nodes/<node>
    qos: int
    retain: bool
    schema: str


STATUS = TopicSpec("status", 1, True, "obsy.live.status")
SAFETY = TopicSpec("safety", 1, True, "obsy.live.safety")
ROOF = TopicSpec("roof/+", 1, True, "obsy.live.roof")
MOUNT = TopicSpec("mount/+", 1, True, "obsy.live.mount")
JOB = TopicSpec("job", 1, True, "obsy.live.job")
FRAME = TopicSpec("frame/latest", 1, True, "obsy.live.frame")
NODE = TopicSpec("nodes/+", 1, True, "obsy.live.node")
STACK = TopicSpec("stack/+", 1, True, "obsy.live.stack")  # + is the target's name made topic-safe
WEATHER = TopicSpec("weather", 1, True, "obsy.live.weather")
ACTIVITY = TopicSpec("activity", 0, False, "obsy.live.activity")

TOPICS: tuple[TopicSpec, ...] = (STATUS, SAFETY, ROOF, MOUNT, JOB, FRAME, NODE, STACK, WEATHER, ACTIVITY)


def site_root(prefix: str, site: str) -> str:
    return f"{prefix}/{site}"


def site_filter(prefix: str, site: str) -> str:
    """The subscription that sees every live topic of one site."""
    return f"{site_root(prefix, site)}/#"


def topic(prefix: str, site: str, spec: TopicSpec, node: str | None = None) -> str:
    leaf = spec.leaf
    if leaf.endswith("/+"):
        if not node or any(c in node for c in "/+#"):
            raise ValueError(f"topic {leaf!r} needs a node name without '/', '+' or '#', got {node!r}")
        leaf = leaf[:-1] + node
    elif node is not None:
        raise ValueError(f"topic {leaf!r} takes no node name")
    return f"{site_root(prefix, site)}/{leaf}"


def spec_for_leaf(leaf: str) -> TopicSpec | None:
    """The spec of a leaf such as ``safety`` or ``nodes/scope1``; None if unknown."""
    for spec in TOPICS:
        if spec.leaf == leaf:
            return spec
        if spec.leaf.endswith("/+"):
            base = spec.leaf[:-1]
            rest = leaf[len(base):]
            if leaf.startswith(base) and rest and "/" not in rest:
                return spec
    return None


def leaf_of(prefix: str, site: str, full_topic: str) -> str | None:
    """``obsy/home/nodes/scope1`` -> ``nodes/scope1``; None for another site or prefix."""
    root = site_root(prefix, site) + "/"
    return full_topic[len(root):] if full_topic.startswith(root) and len(full_topic) > len(root) else None


# --------------------------------------------------------------------------------------------
# payloads
# --------------------------------------------------------------------------------------------

class LivePayload(Message):
    """Base of the live payloads: the contracts envelope plus when the state was observed."""

    at: datetime = Field(default_factory=utcnow)


class LiveStatus(LivePayload):
    SCHEMA: ClassVar[str] = STATUS.schema
    state: Literal["online", "offline"]


class LiveSafety(LivePayload):
    SCHEMA: ClassVar[str] = SAFETY.schema
    node: str
    state: Literal["safe", "unsafe", "unknown"]
    reasons: list[str] = Field(default_factory=list)


class LiveRoof(LivePayload):
    SCHEMA: ClassVar[str] = ROOF.schema
    node: str
    state: Literal["open", "closed", "opening", "closing", "error", "unknown"]
    since: datetime | None = None
    activity: str = Field(default="idle", max_length=40)
    alarm: str | None = Field(default=None, max_length=300)
    alarm_level: Literal["warning", "critical"] | None = None


class LiveMount(LivePayload):
    SCHEMA: ClassVar[str] = MOUNT.schema
    node: str
    state: Literal["parked", "unparked", "unknown"]  # what a page shows; ``parked`` is the raw reading
    parked: bool | None = None
    reason: str | None = Field(default=None, max_length=300)


class LiveJob(LivePayload):
    SCHEMA: ClassVar[str] = JOB.schema
    job_id: str
    node: str
    state: str
    target: str | None = None
    filter_name: str | None = None
    frame_index: int | None = None
    frame_total: int | None = None
    progress: float | None = Field(default=None, ge=0, le=1, description="frame_index / frame_total")
    reason: str | None = None


class LiveFrame(LivePayload):
    SCHEMA: ClassVar[str] = FRAME.schema
    frame_id: int
    node: str | None = None
    frame_type: str | None = None
    object_name: str | None = None
    filter_name: str | None = None
    exposure_s: float | None = None
    date_obs: datetime | None = None
    star_count: int | None = None
    hfr_px: float | None = None
    accepted: bool | None = None
    # A path on the master, to be joined with its URL: the portal's own (login-protected) route,
    # since the latest frame's target need not be public (the gallery uses /public/previews/).
    preview_path: str | None = None
    frame_path: str | None = None


class LiveNode(LivePayload):
    SCHEMA: ClassVar[str] = NODE.schema
    node: str
    role: str
    state: str
    spool_backlog: int = 0
    software_version: str | None = None


class LiveStackPreview(LivePayload):
    SCHEMA: ClassVar[str] = STACK.schema
    target: str
    filter_name: str
    night: str
    n_frames: int
    preview_key: str  # PNG in the repository
    view_path: str  # the portal's viewer page of the stack (login-protected for now)


class LiveWeather(LivePayload):
    SCHEMA: ClassVar[str] = WEATHER.schema
    values: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class LiveActivity(LivePayload):
    SCHEMA: ClassVar[str] = ACTIVITY.schema
    text: str = Field(max_length=500)


LIVE_TYPES: dict[str, type[LivePayload]] = {
    cls.SCHEMA: cls for cls in (LiveStatus, LiveSafety, LiveRoof, LiveMount, LiveJob, LiveFrame, LiveNode,
                                LiveStackPreview, LiveWeather, LiveActivity)
}


def parse_live(raw: bytes | str | dict, leaf: str | None = None) -> LivePayload:
    """Validate a live payload; with ``leaf``, its schema must be the one that topic carries."""
    try:
        data = json.loads(raw) if isinstance(raw, (bytes, bytearray, str)) else raw
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"live payload is not JSON: {exc}", raw) from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"live payload must be a JSON object, got {type(data).__name__}", raw)
    schema = data.get("schema")
    cls = LIVE_TYPES.get(schema) if isinstance(schema, str) else None
    if cls is None:
        raise InvalidMessage(f"unknown live schema {schema!r}", raw)
    if leaf is not None:
        spec = spec_for_leaf(leaf)
        if spec is None or spec.schema != schema:
            raise InvalidMessage(f"topic {leaf!r} does not carry schema {schema!r}", raw)
    if data.get("version") != cls.VERSION:
        raise InvalidMessage(f"live schema {schema!r} version {data.get('version')!r} is not supported "
                             f"(this software reads version {cls.VERSION})", raw)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in exc.errors())
        raise InvalidMessage(f"invalid {schema}: {problems}", raw) from None


def stack_topic_name(target: str) -> str:
    """A target's name as one topic level: no '/', '+', '#' or spaces."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", target).strip("_")[:64] or "unknown-target"


def stack_payload(message: LiveStackUpdated) -> LiveStackPreview:
    return LiveStackPreview(target=message.target, filter_name=message.filter_name, night=message.night,
                            n_frames=message.n_frames, preview_key=message.preview_key,
                            view_path=f"/view/{message.key}")


def safety_payload(message: SafetyState) -> LiveSafety:
    return LiveSafety(node=message.node, state=message.state, reasons=list(message.reasons), at=message.sent_at)


def job_payload(message: JobProgress) -> LiveJob:
    progress = None
    if message.frame_index is not None and message.frame_total:
        progress = max(0.0, min(1.0, message.frame_index / message.frame_total))
    if message.state == "done":
        progress = 1.0
    return LiveJob(job_id=message.job_id, node=message.node, state=message.state, target=message.target,
                   filter_name=message.filter_name, frame_index=message.frame_index,
                   frame_total=message.frame_total, progress=progress, reason=message.reason,
                   at=message.sent_at)


def roof_payload(message: RoofState) -> LiveRoof:
    return LiveRoof(node=message.node, state=message.state, since=message.since, activity=message.activity[:40],
                    alarm=message.alarm[:300] if message.alarm else None, alarm_level=message.alarm_level,
                    at=message.sent_at)


def mount_payload(message: MountReport) -> LiveMount:
    state = "unknown" if message.parked is None else ("parked" if message.parked else "unparked")
    return LiveMount(node=message.node, state=state, parked=message.parked,
                     reason=message.reason[:300] if message.reason else None, at=message.sent_at)


def frame_preview_path(frame_id: int) -> str:
    return f"/frames/{frame_id}/preview.png"


def frame_api_path(frame_id: int) -> str:
    return f"/api/v1/frames/{frame_id}"


FRAME_DETAIL_FIELDS = ("filter_name", "exposure_s", "date_obs", "star_count", "hfr_px", "accepted", "object_name",
                       "frame_type", "node")


def frame_payload(message: FrameIngested, details: dict[str, Any] | None = None) -> LiveFrame:
    """``details`` (from the master's database) adds what the event itself does not carry."""
    values: dict[str, Any] = {"node": message.node, "frame_type": message.frame_type,
                              "object_name": message.object_name, "accepted": message.accepted}
    has_preview = True
    for key, value in (details or {}).items():
        if key in FRAME_DETAIL_FIELDS and value is not None:
            values[key] = value
        elif key == "has_preview":
            has_preview = bool(value)
    return LiveFrame(frame_id=message.frame_id, **values,
                     preview_path=frame_preview_path(message.frame_id) if has_preview else None,
                     frame_path=frame_api_path(message.frame_id))


def node_payload(message: NodeHeartbeat) -> LiveNode:
    return LiveNode(node=message.node, role=message.role, state=message.state[:200],
                    spool_backlog=message.spool_backlog, software_version=message.software_version,
                    at=message.sent_at)


def activity_text(message: Message) -> str | None:
    """A short human line for the activity ticker, or None when the event is not worth one."""
    if isinstance(message, JobProgress):
        if message.state in ("started", "done", "failed", "interrupted"):
            why = f": {message.reason}" if message.reason else ""
            return f"{message.node}: job {message.job_id} {message.state}{why}"
        if message.state == "slewing" and message.target:
            return f"{message.node}: slewing to {message.target}"
        return None
    if isinstance(message, SafetyState):
        return f"{message.node}: sky {message.state}"
    if isinstance(message, FrameIngested) and not message.duplicate:
        what = " ".join(p for p in (message.frame_type, "frame", message.object_name) if p)
        return f"{message.node or 'import'}: {what} ingested"
    return None


# --------------------------------------------------------------------------------------------
# the MQTT client both ends use
# --------------------------------------------------------------------------------------------

def make_mqtt_client(config, client_id: str):
    """A paho client (callback API 2) for ``MqttConfig``: credentials, TLS, reconnect back-off.

    Start it with ``connect_async`` + ``loop_start``: the network thread then connects, and
    reconnects after every loss, waiting 0.5 s, 1 s, 2 s ... up to ``reconnect_max_s``.
    """
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if config.username:
        client.username_pw_set(config.username, config.password or None)
    if config.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=0.5, max_delay=config.reconnect_max_s)
    # Bounded: while the broker is away paho must not pile up messages without limit.
    client.max_queued_messages_set(200)
    return client
