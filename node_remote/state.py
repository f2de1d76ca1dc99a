"""The remote node's picture of the site: the latest payload of every live topic.

Filled by the MQTT subscriber, read by the web pages; every change is also pushed to each open
Server-Sent Events stream through a small bounded queue (a slow browser loses old updates, never
holds the subscriber up).
"""
from __future__ import annotations

import collections
import queue
import threading
from datetime import datetime, timezone

from common import live

from .weather import WeatherHistory

STREAM_QUEUE_SIZE = 100
ACTIVITY_KEPT = 20


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class LiveState:
    def __init__(self, site: str, broker: str = ""):
        self.site = site
        self._lock = threading.Lock()
        self._topics: dict[str, dict] = {}
        self._activity: collections.deque[dict] = collections.deque(maxlen=ACTIVITY_KEPT)
        self._connection = {"connected": False, "broker": broker, "since": None, "lost_since": _now(),
                            "ever_connected": False}
        self._streams: set[queue.Queue] = set()
        self.rejected = 0
        self.last_rejection: str | None = None
        self.weather = WeatherHistory()  # the chart's points (the topic holds only the latest)

    # -- updates (MQTT thread) ---------------------------------------------------------------

    def update(self, leaf: str, payload: dict, retained: bool = True) -> None:
        if leaf == live.WEATHER.leaf:
            self.weather.add(payload)
        with self._lock:
            if retained:
                self._topics[leaf] = payload
            else:
                self._activity.appendleft(payload)
        self._broadcast({"type": "topic", "leaf": leaf, "payload": payload})

    def clear(self, leaf: str) -> None:
        with self._lock:
            removed = self._topics.pop(leaf, None)
        if removed is not None:
            self._broadcast({"type": "clear", "leaf": leaf})

    def reject(self, leaf: str, reason: str) -> None:
        with self._lock:
            self.rejected += 1
            self.last_rejection = f"{leaf}: {reason}"[:500]

    def set_connected(self, connected: bool) -> None:
        with self._lock:
            if connected == self._connection["connected"]:
                return
            self._connection["connected"] = connected
            if connected:
                self._connection.update(since=_now(), lost_since=None, ever_connected=True)
            else:
                self._connection.update(lost_since=_now())
            info = dict(self._connection)
        self._broadcast({"type": "connection", "connection": info})

    # -- reading (web threads) ---------------------------------------------------------------

    def snapshot(self) -> dict:
        with self._lock:
            return {"site": self.site, "connection": dict(self._connection), "topics": dict(self._topics),
                    "activity": list(self._activity), "generated_at": _now()}

    def open_stream(self, limit: int) -> queue.Queue | None:
        """A queue of changes for one SSE client; None when ``limit`` streams are already open."""
        with self._lock:
            if len(self._streams) >= limit:
                return None
            stream: queue.Queue = queue.Queue(maxsize=STREAM_QUEUE_SIZE)
            self._streams.add(stream)
            return stream

    def close_stream(self, stream: queue.Queue) -> None:
        with self._lock:
            self._streams.discard(stream)

    @property
    def stream_count(self) -> int:
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        """End every open stream (server shutdown)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            self._put(stream, None)

    def _broadcast(self, event: dict) -> None:
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            self._put(stream, event)

    @staticmethod
    def _put(stream: queue.Queue, item) -> None:
        while True:
            try:
                stream.put_nowait(item)
                return
            except queue.Full:
                try:
                    stream.get_nowait()  # drop the oldest change
                except queue.Empty:
                    pass


def handle_message(state: LiveState, prefix: str, topic: str, payload: bytes, retain_flag: bool) -> None:
    """Validate one MQTT message and apply it to ``state``."""
    leaf = live.leaf_of(prefix, state.site, topic)
    if leaf is None:
        return
    spec = live.spec_for_leaf(leaf)
    if spec is None:
        state.reject(leaf, "unknown topic")
        return
    if not payload:
        state.clear(leaf)  # an empty retained message deletes the topic
        return
    try:
        message = live.parse_live(payload, leaf)
    except live.InvalidMessage as exc:
        state.reject(leaf, exc.reason)
        return
    state.update(leaf, message.to_wire(), retained=spec.retain)
