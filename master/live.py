"""The master's live publisher: node events in, retained MQTT topics out.

It listens on the event bus (safety, job progress, heartbeats, frame ingested) and republishes
each event as a small JSON payload under ``<prefix>/<site>/...``; topics, QoS and retention are
in the table of :mod:`common.live`:

============== ===== ======== ==============================================
topic leaf     QoS   retained source event
============== ===== ======== ==============================================
status         1     yes      the publisher itself (``offline`` is its will)
safety         1     yes      SafetyState ``observatory.*.safety``
roof/<node>    1     yes      RoofState ``observatory.*.roof``
mount/<node>   1     yes      MountReport ``telescope.*.mount``
job            1     yes      JobProgress ``telescope.*.job``
frame/latest   1     yes      FrameIngested ``master.frame.ingested`` + DB row
nodes/<node>   1     yes      NodeHeartbeat ``*.*.heartbeat``
stack/<target> 1     yes      LiveStackUpdated ``master.stack.live``
weather        1     yes      (none yet)
activity       0     no       JobProgress, SafetyState, FrameIngested
============== ===== ======== ==============================================

The broker being down never blocks or stops the worker: the bus handler only records the latest
payload of each retained topic and hands it to paho's network thread when connected. Transient
payloads are dropped while disconnected. On every (re)connect the publisher sends ``online`` and
the latest payload of every retained topic again, so a broker restarted without persistence is
repopulated at once. Home Assistant discovery configs are sent on connect when enabled.

``frame/latest`` points at the frame's preview through ``preview_path`` — for now the portal's own
route ``/frames/<id>/preview.png`` (needs a login) and ``frame_path`` ``/api/v1/frames/<id>``: the
latest frame's target need not be public. Public previews are ``/public/previews/<id>.png``.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Any, Callable

from common import home_assistant, live, names
from common.contracts import (FrameIngested, JobProgress, LiveStackUpdated, Message, MountReport, NodeHeartbeat,
                              RoofState, SafetyState)

log = logging.getLogger(__name__)

FrameLookup = Callable[[int], "dict[str, Any] | None"]


def _encode(payload: live.LivePayload | dict) -> bytes:
    data = payload.to_wire() if isinstance(payload, live.LivePayload) else payload
    return json.dumps(data, separators=(",", ":")).encode()


class LivePublisher:
    """Publishes live state for one site. ``start()`` returns at once, broker or not."""

    EVENT_PATTERNS = [names.SAFETY_PATTERN, names.JOB_PROGRESS_PATTERN, names.HEARTBEAT_PATTERN,
                      names.FRAME_INGESTED_KEY, names.ROOF_PATTERN, names.MOUNT_PATTERN, names.LIVE_STACK_KEY]

    def __init__(self, config, frame_lookup: FrameLookup | None = None, client_id: str | None = None):
        self.config = config
        self.prefix, self.site = config.topic_prefix, config.site
        self.frame_lookup = frame_lookup
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[bytes, int]] = {}  # retained topic -> (payload, qos)
        self._discovered = {"roof": set(), "mount": set()}  # nodes announced to Home Assistant
        self.connected = threading.Event()
        self.published = 0  # messages handed to paho (for tests and diagnostics)
        self.dropped = 0  # transient messages dropped while disconnected
        client_id = client_id or f"obsy-master-{self.site}-{socket.gethostname()}"[:64]
        self.client = live.make_mqtt_client(config, client_id)
        self.client.will_set(self._topic(live.STATUS), _encode(live.LiveStatus(state="offline")),
                             qos=live.STATUS.qos, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "LivePublisher":
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.connected.is_set():
            info = self.client.publish(self._topic(live.STATUS), _encode(live.LiveStatus(state="offline")),
                                       qos=live.STATUS.qos, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, bus) -> None:
        """Follow the events on ``bus`` (anonymous subscription: live state needs no backlog)."""
        bus.subscribe(self.EVENT_PATTERNS, self.on_event)

    # -- events -> payloads ------------------------------------------------------------------

    def on_event(self, routing_key: str, message: Message) -> None:
        """Bus handler: never raises, never waits on the broker."""
        try:
            self._handle(message)
        except Exception:
            log.exception("live publisher could not handle %s", routing_key)

    def _handle(self, message: Message) -> None:
        if isinstance(message, SafetyState):
            self.publish(live.SAFETY, live.safety_payload(message))
        elif isinstance(message, JobProgress):
            self.publish(live.JOB, live.job_payload(message))
        elif isinstance(message, RoofState):
            self._discover("roof", message.node)
            self.publish(live.ROOF, live.roof_payload(message), node=message.node)
        elif isinstance(message, MountReport):
            self._discover("mount", message.node)
            self.publish(live.MOUNT, live.mount_payload(message), node=message.node)
        elif isinstance(message, NodeHeartbeat):
            self.publish(live.NODE, live.node_payload(message), node=message.node)
        elif isinstance(message, LiveStackUpdated):
            self.publish(live.STACK, live.stack_payload(message), node=live.stack_topic_name(message.target))
            return
        elif isinstance(message, FrameIngested):
            if message.duplicate:
                return
            details = self._frame_details(message.frame_id)
            self.publish(live.FRAME, live.frame_payload(message, details))
        else:
            return
        text = live.activity_text(message)
        if text:
            self.publish(live.ACTIVITY, live.LiveActivity(text=text))

    def _frame_details(self, frame_id: int) -> dict | None:
        if self.frame_lookup is None:
            return None
        try:
            return self.frame_lookup(frame_id)
        except Exception:
            log.exception("live publisher could not read frame %s; publishing the event alone", frame_id)
            return None

    def _discover(self, kind: str, node: str) -> None:
        """A node heard of for the first time gets its Home Assistant entity (sent now if connected,
        else with everything else on connect)."""
        if not self.config.home_assistant or node in self._discovered[kind]:
            return
        with self._lock:
            self._discovered[kind].add(node)
            if self.connected.is_set():
                self._send_discovery(home_assistant.node_entities(self.prefix, self.site, **{f"{kind}s": {node}}))

    def _send_discovery(self, entities) -> None:
        for name, config in home_assistant.discovery_configs(self.prefix, self.site, entities,
                                                             self.config.discovery_prefix):
            self._send(name, _encode(config), 1, True)

    # -- MQTT --------------------------------------------------------------------------------

    def _topic(self, spec: live.TopicSpec, node: str | None = None) -> str:
        return live.topic(self.prefix, self.site, spec, node)

    def publish(self, spec: live.TopicSpec, payload: live.LivePayload, node: str | None = None) -> None:
        name = self._topic(spec, node)
        body = _encode(payload)
        with self._lock:
            if spec.retain:
                self._latest[name] = (body, spec.qos)
            if not self.connected.is_set():
                if not spec.retain:
                    self.dropped += 1
                return
            self._send(name, body, spec.qos, spec.retain)

    def latest(self) -> dict[str, dict]:
        """The last payload of every retained topic (what a reconnect sends again)."""
        with self._lock:
            return {name: json.loads(body) for name, (body, _) in self._latest.items()}

    def _send(self, name: str, body: bytes, qos: int, retain: bool) -> None:
        info = self.client.publish(name, body, qos=qos, retain=retain)
        if info.rc == 0:
            self.published += 1
        else:
            log.debug("live publish to %s not queued (rc %s)", name, info.rc)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the live publisher: %s", self.config.host, self.config.port,
                        reason_code)
            return
        log.info("live publisher connected to MQTT %s:%s", self.config.host, self.config.port)
        with self._lock:
            self.connected.set()
            self._send(self._topic(live.STATUS), _encode(live.LiveStatus(state="online")), live.STATUS.qos, True)
            if self.config.home_assistant:
                self._send_discovery(home_assistant.site_entities(self.prefix, self.site)
                                     + home_assistant.node_entities(self.prefix, self.site, self._discovered["roof"],
                                                                    self._discovered["mount"]))
            for name, (body, qos) in self._latest.items():
                self._send(name, body, qos, True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if self._started:
            log.warning("live publisher lost MQTT %s:%s (%s); reconnecting with back-off",
                        self.config.host, self.config.port, reason_code)


def frame_lookup(sessions) -> FrameLookup:
    """Read what ``frame/latest`` shows from the frame's row."""
    from .models import Frame

    def lookup(frame_id: int) -> dict | None:
        with sessions() as session:
            frame = session.get(Frame, frame_id)
            if frame is None:
                return None
            return {"filter_name": frame.filter_name, "exposure_s": frame.exposure_s, "date_obs": frame.date_obs,
                    "star_count": frame.star_count, "hfr_px": frame.hfr_px, "accepted": frame.accepted,
                    "object_name": frame.object_name or frame.target_name, "frame_type": frame.frame_type,
                    "node": frame.node_name, "has_preview": bool(frame.preview_key)}
    return lookup


def start_live_publisher(services) -> LivePublisher | None:
    """Start publishing when ``[mqtt] host`` is set; None otherwise."""
    config = getattr(services.config, "mqtt", None)
    if config is None or not config.host:
        return None
    publisher = LivePublisher(config, frame_lookup(services.sessions)).start()
    publisher.subscribe(services.bus)
    return publisher
