"""Put the safety verdict on the event bus: on every change, and again every so often
so that listeners can tell a live verdict from a stale one."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from common import names
from common.contracts import SafetyState

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
