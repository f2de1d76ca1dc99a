"""Put the safety verdict on the event bus: on every change, and again every so often
so that listeners can tell a live verdict from a stale one."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from common import names
from common.contracts import CloudMap, SafetyState

log = logging.getLogger(__name__)


class SafetyPublisher:
    def __init__(self, bus, node: str, every_s: float):
        self.bus = bus
        self.node = node
        self.every = timedelta(seconds=every_s)
        self._last_state = None
        self._last_sent: datetime | None = None

    def __call__(self, status) -> bool:
        """Publish ``status`` (a SafetyStatus) if it changed or is due; True when sent."""
        changed = status.state is not self._last_state
        due = self._last_sent is None or status.time - self._last_sent >= self.every
        if not (changed or due):
            return False
        message = SafetyState(node=self.node, state=status.state.value, reasons=list(status.reasons),
                              sent_at=status.time)
        try:
            self.bus.publish(names.safety_key(self.node), message)
        except Exception as exc:  # the broker may be down; the next tick tries again
            log.warning("safety state not published: %s", exc)
            return False
        self._last_state, self._last_sent = status.state, status.time
        return True


class CloudMapPublisher:
    """Each newly judged all-sky image's cloud map, as a ``CloudMap`` event (once per image)."""

    def __init__(self, bus, node: str, monitor):
        self.bus = bus
        self.node = node
        self.sources = [slot.source for slot in monitor.slots if hasattr(slot.source, "map_serial")]
        self._sent: dict[str, int] = {}

    def __call__(self, status=None) -> int:
        sent = 0
        for source in self.sources:
            if source.cloud_map is None or self._sent.get(source.name) == source.map_serial:
                continue
            taken, result = source.cloud_map
            message = CloudMap(node=self.node, source=source.name, taken_at=taken, label=result.label,
                               cloud_fraction=result.cloud_fraction, regions=list(result.regions))
            try:
                self.bus.publish(names.clouds_key(self.node), message)
            except Exception as exc:  # the broker may be down; the next image tries again
                log.warning("cloud map not published: %s", exc)
                continue
            self._sent[source.name] = source.map_serial
            sent += 1
        return sent
