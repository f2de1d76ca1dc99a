"""Random nights through the roof controller (hypothesis state machine, simulated devices).

After every step: no roof motion command was ever sent while either park source said "not
parked" or was stale; a bad sky with a mount that can park ends with the roof closed within a
bounded number of steps; the roof never starts to open within the minimum safe time of a
non-safe verdict."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from node_observatory.roof.base import RoofPosition
from node_observatory.roof.controller import RoofController, RoofSettings
from node_observatory.roof.simulator import SimulatedMount, SimulatedRoof

T0 = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)
STEP_S = 2.0
SETTINGS = RoofSettings(park_max_age_s=10, park_timeout_s=30, motion_timeout_s=20, min_safe_s=60,
                        safety_max_age_s=30, retry_after_s=10, park_request_every_s=4, auto_open=True)
#: park (6 s) + a pause after a failed motion (10 s) + travel (10 s) + a step either side, in steps
CLOSE_WITHIN_STEPS = 15


class RoofNight(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.now = T0
        clock = lambda: self.now  # noqa: E731
        self.roof = SimulatedRoof(clock, travel_s=10)
        self.mount = SimulatedMount(clock, park_s=6, parked=True)
        self.sources = list(self.mount.sources.values())
        self.violations: list[str] = []
        self.early_opens: list[str] = []
        self.last_not_safe = T0
        self.sky = "unknown"
        self.verdict: tuple[str, datetime] | None = None  # the last verdict the monitor sent
        self.bad_steps = 0  # consecutive steps with a bad sky, a mount able to park and a working roof
        self.controller = RoofController("roof1", self.roof, self.sources, request_park=self.mount.request_park,
                                         settings=SETTINGS, clock=clock)
        for name in ("open", "close"):
            self._guard(name)

    def _guard(self, name):
        original = getattr(self.roof, name)

        def guarded():
            for source in self.sources:
                r = source._last  # what the source said when last read (the controller just read it)
                fresh = r.time is not None and (self.now - r.time).total_seconds() <= SETTINGS.park_max_age_s
                if not (fresh and r.parked and self.mount.parked):
                    self.violations.append(f"{name} at {self.now} with {r}")
            if name == "open":
                sky = self._sky()
                waited = (self.now - self.last_not_safe).total_seconds()
                if sky != "safe" or waited < SETTINGS.min_safe_s:
                    self.early_opens.append(f"open at {self.now}: sky {sky}, safe for {waited:.0f} s")
            original()
        setattr(self.roof, name, guarded)

    # --- the world ---------------------------------------------------------------
    @rule(state=st.sampled_from(["safe", "safe", "unsafe", "unknown"]))
    def weather(self, state):
        self.sky = state
        self._send(state)

    def _send(self, state):
        self.verdict = (state, self.now)
        if state != "safe":
            self.last_not_safe = self.now
        self.controller.on_safety(state, self.now)

    def _sky(self) -> str:
        """The sky as the test sees it, worked out apart from the controller."""
        if self.verdict is None or (self.now - self.verdict[1]).total_seconds() > SETTINGS.safety_max_age_s:
            return "unknown"
        return self.verdict[0]

    @rule()
    def rain(self):
        self.weather("unsafe")

    @rule()
    def monitor_silent(self):
        self.sky = "silent"  # no more verdicts: after safety_max_age_s the controller treats it as unknown

    @rule(which=st.sampled_from(["indi", "node"]), dropped=st.booleans())
    def sensor_dropout(self, which, dropped):
        self.mount.sources[which].dropped = dropped

    @rule(fails=st.booleans())
    def park_failure(self, fails):
        self.mount.park_fails = fails

    @rule()
    def observer_unparks(self):
        self.mount.unpark()
        self.bad_steps = 0  # the park starts again

    @rule(stuck=st.booleans())
    def roof_stuck(self, stuck):
        self.roof.stuck = stuck

    @rule()
    def roof_fails_once(self):
        self.roof.fail_next = True

    @rule(action=st.sampled_from(["open", "close"]))
    def manual(self, action):
        self.controller.command(action)

    @rule()
    def clear_night(self):
        """A long safe spell with devices that work: auto_open opens the roof (so storms find it open)."""
        self.mount.park_fails = self.roof.stuck = self.roof.fail_next = False
        for source in self.mount.sources.values():
            source.dropped = False
        self.sky = "safe"
        self.time_passes(int(SETTINGS.min_safe_s / STEP_S) + 1)
        assert self.controller.command("open").accepted  # lifts a manual close's hold
        self.time_passes(CLOSE_WITHIN_STEPS)
        assert self.roof.state is RoofPosition.OPEN

    @rule(state=st.sampled_from(["unsafe", "unknown", "silent"]))
    def storm(self, state):
        """Bad sky with devices that work: the roof must be closed within the bound."""
        self.mount.park_fails = self.roof.stuck = self.roof.fail_next = False
        for source in self.mount.sources.values():
            source.dropped = False
        self.sky = state
        if state != "silent":
            self._send(state)
        silent = int(SETTINGS.safety_max_age_s / STEP_S) + 1 if state == "silent" else 0
        self.time_passes(silent + CLOSE_WITHIN_STEPS)
        assert self.roof.state is RoofPosition.CLOSED, f"roof {self.roof.state} after a {state} sky"

    @rule(steps=st.integers(min_value=1, max_value=20))
    def time_passes(self, steps):
        for _ in range(steps):
            if self.sky in ("safe", "unsafe", "unknown"):
                self._send(self.sky)  # the monitor republishes
            if self._sky() != "safe":
                self.last_not_safe = self.now
            self.controller.step()
            healthy = (not self.mount.park_fails and not self.roof.stuck and not self.roof.fail_next
                       and not any(s.dropped for s in self.mount.sources.values()))
            if self._sky() != "safe" and healthy:
                self.bad_steps += 1
            else:
                self.bad_steps = 0
            if self.bad_steps > CLOSE_WITHIN_STEPS:
                assert self.roof.state is RoofPosition.CLOSED, (
                    f"sky bad for {self.bad_steps} steps with a mount that parks, roof {self.roof.state}")
            self.now += timedelta(seconds=STEP_S)

    # --- the promises ------------------------------------------------------------
    @invariant()
    def never_moved_onto_an_unparked_mount(self):
        assert not self.violations, self.violations

    @invariant()
    def never_opened_unless_safe_for_the_minimum_safe_time(self):
        assert not self.early_opens, self.early_opens


RoofNight.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestRoofNight = RoofNight.TestCase
