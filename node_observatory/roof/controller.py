"""The roof controller: an interlock with the mount, and the order of things on bad weather.

Rules, checked on every :meth:`RoofController.step`:

* **Interlock.** No roof motion command (open or close) is sent unless *both* park sources,
  read immediately before the command, say "parked" and are fresh (younger than
  ``park_max_age_s``). A stale, missing or unsure source counts as not parked. If the check
  fails, the roof is not moved: the controller raises an alarm, asks for a park
  (``request_park``) and waits. While the roof moves the check is repeated every step; if it
  fails, the motion is aborted. ``abort`` is not a motion and is always allowed.
* **Bad sky.** ``unsafe`` and ``unknown`` (and no safety verdict for ``safety_max_age_s``: a dead
  monitor is never fine weather) mean close: request the park, wait until both sources confirm
  it, then close. A roof already moving to open is aborted first.
* **Park failure.** If the mount is not confirmed parked within ``park_timeout_s`` the roof is
  left where it is and a CRITICAL alarm is raised; the controller keeps asking for the park
  and closes as soon as both sources confirm it.

  Why not close anyway? A roll-off roof or shutter that closes onto an unparked telescope can
  hit the tube, bend a counterweight shaft or tear cables: certain, expensive mechanical damage,
  now, and it may leave the roof jammed half-open, which lets the rain in *as well*. Rain on an
  open roof is a likely but not certain harm that a person can limit (cover, tarpaulin, close by
  hand once the mount is moved), and the CRITICAL alarm exists to fetch that person. So the
  design prefers the recoverable risk: the roof never moves onto an unparked mount, and the
  alarm is loud and repeated instead. Rain is kept out by closing early (``unknown`` closes too)
  and by parking first, so a park failure is the only path to an open roof in the rain.
* **Open.** Only when the sky verdict is ``safe`` (the monitor already demands its minimum safe
  time) *and* this controller has seen no non-safe verdict for ``min_safe_s`` (a second guard,
  so that a gust that flips the verdict briefly does not cycle the roof), and only on a manual
  command unless ``auto_open``. A manual open while not safe is refused. A manual close is
  always accepted and holds the roof closed until the next manual open. A roof found open at
  start-up stays open while the sky is ``safe`` (the minimum safe time is for *re*opening).
* **Motion timeout.** A motion not finished within ``motion_timeout_s`` is aborted; the roof
  state becomes ``error`` with an alarm. A close is retried after ``retry_after_s`` (still
  under the interlock); an open is not retried without a new manual command.
* **State.** The roof's state is always read from the device. It is written to ``state_path``
  on every change (for people and other tools); on restart it is recovered from the device, and
  the file is only compared with it. A ``RoofState`` event goes out on every change.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from common.contracts import RoofState

from .base import Roof, RoofPosition, RoofStatus
from .park import ParkSource

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RoofSettings:
    park_max_age_s: float = 60.0
    park_timeout_s: float = 180.0
    motion_timeout_s: float = 60.0
    min_safe_s: float = 900.0
    safety_max_age_s: float = 120.0
    retry_after_s: float = 60.0
    park_request_every_s: float = 10.0
    auto_open: bool = False
    republish_s: float = 60.0


@dataclass
class Alarm:
    level: str  # warning, critical
    message: str
    time: datetime


@dataclass
class Decision:
    accepted: bool
    reason: str = ""


class RoofController:
    def __init__(self, node: str, roof: Roof, park_sources: Sequence[ParkSource], *,
                 request_park: Callable[[], None], settings: RoofSettings | None = None,
                 publish: Callable[[RoofState], None] = lambda message: None,
                 clock: Callable[[], datetime] = utc_now, state_path: str | Path | None = None,
                 on_alarm: Callable[[Alarm], None] | None = None):
        if len(park_sources) < 2:
            raise ValueError("the roof interlock needs two independent park sources")
        self.node = node
        self.roof = roof
        self.park_sources = list(park_sources)
        self.request_park = request_park
        self.settings = settings or RoofSettings()
        self.publish = publish
        self.clock = clock
        self.state_path = Path(state_path) if state_path else None
        self.on_alarm = on_alarm
        self.safety: str = "unknown"
        self.safety_time: datetime | None = None
        self.last_not_safe: datetime | None = clock()  # at start, the sky is not yet known to be safe
        self.want_open = False
        self._hold_closed = False
        self.activity = "idle"
        self.alarm: Alarm | None = None
        self.alarms: list[Alarm] = []
        self.status: RoofStatus | None = None
        self.mount_parked: dict[str, bool | None] = {}
        self._motion: tuple[RoofPosition, datetime] | None = None  # target, started
        self._park_since: datetime | None = None
        self._park_asked: datetime | None = None
        self._park_critical = False
        self._error_at: datetime | None = None
        self._published: tuple | None = None
        self._published_at: datetime | None = None

    # --- inputs ----------------------------------------------------------------
    def on_safety(self, state: str, when: datetime | None = None) -> None:
        self.safety = state
        self.safety_time = when or self.clock()
        if state != "safe":
            self.last_not_safe = self.safety_time
            self.want_open = False

    def on_safety_event(self, routing_key: str, message) -> None:
        """Bus handler for this node's ``SafetyState`` events."""
        if getattr(message, "node", None) == self.node and hasattr(message, "state"):
            self.on_safety(message.state, message.sent_at)

    def command(self, action: str) -> Decision:
        """A person's open or close; acted on at the next step."""
        if action == "close":
            self.want_open = False
            self._hold_closed = True  # until a person opens it again, even with auto_open
            return Decision(True)
        if action != "open":
            return Decision(False, f"unknown roof command {action!r}; use open or close")
        now = self.clock()
        why = self._not_safe_reason(now)
        if why:
            self._raise("warning", f"open refused: {why}", now)
            return Decision(False, why)
        self.want_open = True
        self._hold_closed = False
        self._error_at = None  # a person asked: an open may be tried again after an error
        return Decision(True)

    def acknowledge(self) -> None:
        """A person has seen the alarm (a CRITICAL one stays until then)."""
        self.alarm = None
        self._changed(self.clock())

    # --- the rules ---------------------------------------------------------------
    def sky(self, now: datetime) -> str:
        if self.safety_time is None or (now - self.safety_time).total_seconds() > self.settings.safety_max_age_s:
            return "unknown"
        return self.safety

    def _not_safe_reason(self, now: datetime) -> str:
        sky = self.sky(now)
        if sky != "safe":
            return f"sky is {sky}"
        if self.last_not_safe is not None:
            waited = (now - self.last_not_safe).total_seconds()
            if waited < self.settings.min_safe_s:
                return f"safe for {waited:.0f} s only (needs {self.settings.min_safe_s:g} s)"
        return ""

    def interlock(self) -> tuple[bool, list[str]]:
        """Read both park sources now; (True, []) only if both are fresh and parked."""
        now = self.clock()
        reasons = []
        for source in self.park_sources:
            try:
                ok, why = source.read().confirms_parked(now, self.settings.park_max_age_s)
                fresh = ok or "not parked" in why
            except Exception as exc:  # a source that cannot be read is not a "parked"
                ok, why, fresh = False, f"{source.name}: {exc}", False
            self.mount_parked[source.name] = ok if fresh else None
            if not ok:
                reasons.append(why)
        return not reasons, reasons

    def recover(self) -> RoofStatus:
        """Read the roof from the device (after a restart); the state file is only compared."""
        status = self._read()
        remembered = self._load_state()
        if remembered and remembered != status.state.value:
            log.warning("roof state file said %s; the device says %s (the device wins)", remembered,
                        status.state.value)
        if status.state in (RoofPosition.OPEN, RoofPosition.OPENING):
            self.want_open = True  # keep observing while the sky stays safe; any bad verdict closes it
        if status.state.moving:  # a motion we did not start (or from before the restart): watch it
            target = RoofPosition.OPEN if status.state is RoofPosition.OPENING else RoofPosition.CLOSED
            self._motion = (target, self.clock())
        self._changed(self.clock())
        return status

    def step(self) -> RoofStatus:
        now = self.clock()
        status = self._read()
        sky = self.sky(now)
        if sky != "safe":
            self.last_not_safe = now
            self.want_open = False
        if self.settings.auto_open and sky == "safe" and not self._hold_closed and self._error_at is None:
            self.want_open = True
        # Opening needs the minimum safe time; staying open (e.g. after a restart) needs a safe sky.
        stay = status.state in (RoofPosition.OPEN, RoofPosition.OPENING) and sky == "safe"
        target = RoofPosition.OPEN if self.want_open and (stay or not self._not_safe_reason(now)) \
            else RoofPosition.CLOSED
        if self._motion is not None:
            self._follow_motion(status, target, now)
        elif status.state is not target:
            self._seek(status, target, now)
        else:
            self.activity = "idle"
            self._park_since, self._park_asked, self._park_critical = None, None, False
            if self.alarm is not None and self.alarm.level == "warning":
                self.alarm = None
        self._read()  # what the device says after any command
        self._changed(now)
        return self.status

    def _seek(self, status: RoofStatus, target: RoofPosition, now: datetime) -> None:
        if status.state.moving:  # someone else moves it: follow it (and stop it if it goes the wrong way)
            goal = RoofPosition.OPEN if status.state is RoofPosition.OPENING else RoofPosition.CLOSED
            self._motion = (goal, now)
            self._follow_motion(status, target, now)
            return
        if self._error_at is not None and target is RoofPosition.OPEN:  # no automatic open after a failure
            self.activity = "alarm"
            return
        ok, reasons = self.interlock()
        if not ok:
            self._wait_for_park(target, reasons, now)
            return
        self._park_since, self._park_asked, self._park_critical = None, None, False
        if self._error_at is not None and (now - self._error_at).total_seconds() < self.settings.retry_after_s:
            self.activity = "alarm"  # a close is retried, after a pause
            return
        self._move(target, now)

    def _wait_for_park(self, target: RoofPosition, reasons: list[str], now: datetime) -> None:
        if self._park_since is None:
            self._park_since = now
            self._raise("warning", f"roof not moved ({target.value} wanted): " + "; ".join(reasons), now)
        self.activity = "parking"
        if self._park_asked is None or (now - self._park_asked).total_seconds() >= self.settings.park_request_every_s:
            self._park_asked = now
            try:
                self.request_park()
            except Exception as exc:
                log.warning("park request failed: %s", exc)
        waited = (now - self._park_since).total_seconds()
        if waited >= self.settings.park_timeout_s:
            if not self._park_critical:
                self._park_critical = True
                self._raise("critical", f"mount not confirmed parked after {waited:.0f} s; the roof stays "
                            f"{self.status.state.value if self.status else 'where it is'} and will not move onto "
                            "an unparked mount: " + "; ".join(reasons), now)
            self.activity = "alarm"
            if target is RoofPosition.OPEN:  # give up the open; keep trying to close
                self.want_open = False

    def _move(self, target: RoofPosition, now: datetime) -> None:
        try:
            if target is RoofPosition.OPEN:
                self.roof.open()
            else:
                self.roof.close()
        except Exception as exc:  # RoofError, or whatever the device library raised
            self._raise("critical" if target is RoofPosition.CLOSED else "warning",
                        f"roof {target.value} command failed: {exc}", now)
            self._error_at = now
            self.activity = "alarm"
            return
        self._motion = (target, now)
        self._error_at = None
        self.activity = "opening" if target is RoofPosition.OPEN else "closing"
        log.info("roof %s: command sent", self.activity)

    def _follow_motion(self, status: RoofStatus, target: RoofPosition, now: datetime) -> None:
        goal, started = self._motion
        if status.state is goal:
            self._motion = None
            self.activity = "idle"
            return
        if status.state is RoofPosition.ERROR:
            self._motion = None
            self._error_at = now
            self.activity = "alarm"
            self._raise("critical", f"roof reports an error while {'opening' if goal is RoofPosition.OPEN else 'closing'}"
                        f"{': ' + status.message if status.message else ''}", now)
            return
        ok, reasons = self.interlock()
        if not ok:
            self._abort(f"mount no longer confirmed parked during roof motion: {'; '.join(reasons)}", now)
            return
        if goal is RoofPosition.OPEN and target is RoofPosition.CLOSED:
            self._abort("sky no longer safe while opening", now, level="warning", error=False)
            return
        if (now - started).total_seconds() > self.settings.motion_timeout_s:
            self._abort(f"roof did not finish {'opening' if goal is RoofPosition.OPEN else 'closing'} within "
                        f"{self.settings.motion_timeout_s:g} s", now)

    def _abort(self, why: str, now: datetime, level: str = "critical", error: bool = True) -> None:
        try:
            self.roof.abort()
        except Exception as exc:
            why += f" (abort failed: {exc})"
        self._motion = None
        self.activity = "alarm" if error else "idle"
        if error:
            self._error_at = now
            self.want_open = False
        self._raise(level, why, now)

    # --- outputs ------------------------------------------------------------------
    def _read(self) -> RoofStatus:
        try:
            status = self.roof.status()
        except Exception as exc:
            status = RoofStatus(RoofPosition.UNKNOWN, None, self.clock(), f"roof cannot be read: {exc}")
        if self._error_at is not None and not status.state.moving and status.state is not RoofPosition.CLOSED:
            # a failed motion stays an error (even if the device says open) until a motion succeeds
            status = RoofStatus(RoofPosition.ERROR, self._error_at, status.time, status.message or "last motion failed")
        self.status = status
        return status

    def _raise(self, level: str, message: str, now: datetime) -> None:
        alarm = Alarm(level, message, now)
        self.alarm = alarm
        self.alarms.append(alarm)
        (log.critical if level == "critical" else log.warning)("roof %s: %s", self.node, message)
        if self.on_alarm is not None:
            try:
                self.on_alarm(alarm)
            except Exception:
                log.exception("alarm hook failed")

    def message(self) -> RoofState:
        status = self.status
        return RoofState(node=self.node, state=status.state.value if status else "unknown",
                         since=status.since if status else None, activity=self.activity,
                         alarm=self.alarm.message if self.alarm else None,
                         alarm_level=self.alarm.level if self.alarm else None,
                         mount_parked=dict(self.mount_parked), sent_at=self.clock())

    def _changed(self, now: datetime) -> None:
        """Publish the state when it changed, and again every ``republish_s`` so that a master or
        remote site started later learns it too."""
        key = (self.status.state if self.status else None, self.activity,
               self.alarm.message if self.alarm else None)
        changed = key != self._published
        due = self._published_at is None or (now - self._published_at).total_seconds() >= self.settings.republish_s
        if not (changed or due):
            return
        message = self.message()
        if changed:
            self._save_state(message)
        try:
            self.publish(message)
        except Exception as exc:
            log.warning("roof state not published: %s", exc)
            return
        self._published, self._published_at = key, now

    def _save_state(self, message: RoofState) -> None:
        if self.state_path is None:
            return
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(message.to_json())
            os.replace(tmp, self.state_path)
        except OSError as exc:
            log.warning("roof state not written to %s: %s", self.state_path, exc)

    def _load_state(self) -> str | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        try:
            return json.loads(self.state_path.read_text()).get("state")
        except (OSError, ValueError, AttributeError):
            return None
