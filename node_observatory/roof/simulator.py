"""Simulated roof and mount on an injected clock: deterministic, time-scalable, breakable.

``SimulatedRoof`` travels in ``travel_s`` (divided by ``time_scale``); ``stuck`` makes a motion
never finish, ``fail_next`` makes the next command end in ``error``. ``SimulatedMount`` parks in
``park_s``; ``park_fails`` makes a park never finish; each of its park sources can be told to
drop out (its reading stops being refreshed and goes stale).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from .base import Roof, RoofError, RoofPosition, RoofStatus
from .park import ParkReading, ParkSource


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SimulatedRoof(Roof):
    def __init__(self, clock: Callable[[], datetime] = utc_now, travel_s: float = 10.0, time_scale: float = 1.0,
                 initial: RoofPosition = RoofPosition.CLOSED, name: str = "simulated roof"):
        if travel_s < 0 or time_scale <= 0:
            raise ValueError("travel_s must be >= 0 and time_scale > 0")
        self.clock = clock
        self.travel = timedelta(seconds=travel_s / time_scale)
        self.name = name
        self.stuck = False
        self.fail_next = False
        self.offline = False
        self.commands: list[tuple[datetime, str]] = []  # every command received, in order
        self._state = initial
        self._since = clock()
        self._target: RoofPosition | None = None
        self._started: datetime | None = None

    def _command(self, action: str) -> None:
        if self.offline:
            raise RoofError(f"{self.name} does not answer")
        self.commands.append((self.clock(), action))

    def _start(self, moving: RoofPosition, target: RoofPosition) -> None:
        now = self.clock()
        if self.fail_next:
            self.fail_next = False
            self._set(RoofPosition.ERROR, now)
            self._target = None
            return
        if self._state is target:
            return
        self._set(moving, now)
        self._target, self._started = target, now

    def _set(self, state: RoofPosition, when: datetime) -> None:
        if state is not self._state:
            self._state, self._since = state, when

    def open(self) -> None:
        self._command("open")
        self._start(RoofPosition.OPENING, RoofPosition.OPEN)

    def close(self) -> None:
        self._command("close")
        self._start(RoofPosition.CLOSING, RoofPosition.CLOSED)

    def abort(self) -> None:
        self._command("abort")
        if self._state.moving:
            # stopped part way: neither open nor closed
            self._set(RoofPosition.UNKNOWN, self.clock())
        self._target = None

    def _advance(self) -> None:
        if self._target is None or self.stuck:
            return
        now = self.clock()
        if now - self._started >= self.travel:
            self._set(self._target, self._started + self.travel)
            self._target = None

    def status(self) -> RoofStatus:
        if self.offline:
            raise RoofError(f"{self.name} does not answer")
        self._advance()
        return RoofStatus(self._state, self._since, self.clock())

    @property
    def state(self) -> RoofPosition:
        self._advance()
        return self._state


class SimulatedMount:
    """A mount that parks in ``park_s`` and two park sources that watch it."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, park_s: float = 5.0, parked: bool = True):
        self.clock = clock
        self.park_time = timedelta(seconds=park_s)
        self.park_fails = False
        self._parked = parked
        self._park_started: datetime | None = None
        self.park_requests = 0
        self.sources = {"indi": _MountWatcher(self, "mount (INDI)"), "node": _MountWatcher(self, "telescope node")}

    def request_park(self) -> None:
        self.park_requests += 1
        if not self._parked and self._park_started is None:
            self._park_started = self.clock()

    def unpark(self) -> None:
        self._parked, self._park_started = False, None

    @property
    def parked(self) -> bool:
        if self._park_started is not None and not self.park_fails \
                and self.clock() - self._park_started >= self.park_time:
            self._parked, self._park_started = True, None
        return self._parked


class _MountWatcher(ParkSource):
    def __init__(self, mount: SimulatedMount, name: str):
        self.mount = mount
        self.name = name
        self.dropped = False
        self._last = ParkReading(name, None, None, "never read")

    def read(self) -> ParkReading:
        if not self.dropped:
            self._last = ParkReading(self.name, self.mount.parked, self.mount.clock())
        return self._last
