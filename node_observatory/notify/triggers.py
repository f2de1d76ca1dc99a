"""Decide which safety changes and roof alarms become notices, without letting a flapping source spam.

Safety: the first verdict after start is taken as it is (a restart always begins unsafe while the
monitor waits its minimum safe time, which is no news). After that, a change of state is sent at
once unless a safety notice went out less than ``min_interval_s`` ago; then it waits, and when the
interval is over the state *then* is sent if it still differs from the last one sent (so a flap
that came back is never sent, and the last word is always the current state).

Alarms: each distinct (level, message) is sent at most once per ``min_interval_s``.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from .notice import Notice

log = logging.getLogger(__name__)

STATE_PRIORITY = {"safe": "default", "unsafe": "high", "unknown": "high"}
ALARM_PRIORITY = {"critical": "urgent", "warning": "high"}


class SafetyNotices:
    def __init__(self, node: str, submit: Callable[[Notice], None], min_interval_s: float = 300.0):
        self.node = node
        self.submit = submit
        self.min_interval_s = float(min_interval_s)
        self.reported: str | None = None
        self.sent_at: datetime | None = None
        self.changes = 0  # state changes seen since the last notice
        self._seen: str | None = None

    def __call__(self, status) -> Notice | None:
        """Feed every verdict (a SafetyStatus); returns the notice sent, if any."""
        state = status.state.value
        if self.reported is None:
            self.reported = self._seen = state
            return None
        if state != self._seen:
            self.changes += 1
            self._seen = state
        if state == self.reported:
            return None
        if self.sent_at is not None and (status.time - self.sent_at).total_seconds() < self.min_interval_s:
            return None
        notice = self._notice(status)
        self.reported, self.sent_at, self.changes = state, status.time, 0
        _submit(self.submit, notice)
        return notice

    def _notice(self, status) -> Notice:
        state = status.state.value
        title = f"{self.node}: safe again" if state == "safe" else f"{self.node}: safety {state}"
        lines = [f"Safety state {self.reported} -> {state}."]
        if self.changes > 1:
            lines.append(f"The state changed {self.changes} times since the last notice.")
        lines += [f"- {reason}" for reason in status.reasons]
        return Notice("safety", title, "\n".join(lines), STATE_PRIORITY.get(state, "high"), status.time, self.node,
                      {"state": state, "previous": self.reported, "reasons": list(status.reasons)})


class AlarmNotices:
    def __init__(self, node: str, submit: Callable[[Notice], None], min_interval_s: float = 300.0):
        self.node = node
        self.submit = submit
        self.min_interval_s = float(min_interval_s)
        self._last: dict[tuple[str, str], datetime] = {}

    def __call__(self, alarm) -> Notice | None:
        """The roof controller's ``on_alarm`` hook (an Alarm: level, message, time)."""
        key = (alarm.level, alarm.message)
        last = self._last.get(key)
        if last is not None and (alarm.time - last).total_seconds() < self.min_interval_s:
            return None
        # forget old keys so a long run does not keep every message ever raised
        self._last = {k: t for k, t in self._last.items()
                      if (alarm.time - t).total_seconds() < self.min_interval_s}
        self._last[key] = alarm.time
        notice = Notice("alarm", f"{self.node}: roof {alarm.level}", alarm.message,
                        ALARM_PRIORITY.get(alarm.level, "high"), alarm.time, self.node, {"level": alarm.level})
        _submit(self.submit, notice)
        return notice


def _submit(submit: Callable[[Notice], None], notice: Notice) -> None:
    try:
        submit(notice)
    except Exception:  # handing over must never break the node loop
        log.exception("notice %r not handed to the notifiers", notice.title)
