"""The roof controller's rules, one by one, with a simulated roof and mount on a fake clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from common.contracts import RoofState, parse_message
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.controller import RoofController, RoofSettings
from node_observatory.roof.simulator import SimulatedMount, SimulatedRoof

T0 = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


class Rig:
    """A controller with a roof, a mount and its two park sources, and a recorder that checks the
    interlock at the moment of every roof motion command."""

    def __init__(self, tmp_path=None, *, roof=RoofPosition.CLOSED, parked=True, **settings):
        self.clock = Clock()
        self.roof = SimulatedRoof(self.clock, travel_s=10, initial=roof)
        self.mount = SimulatedMount(self.clock, park_s=5, parked=parked)
        self.events: list[RoofState] = []
        self.violations: list[str] = []
        defaults = dict(park_max_age_s=30, park_timeout_s=60, motion_timeout_s=20, min_safe_s=300,
                        safety_max_age_s=120, retry_after_s=30)
        defaults.update(settings)
        self.settings = RoofSettings(**defaults)
        self.controller = RoofController(
            "roof1", self.roof, [self.mount.sources["indi"], self.mount.sources["node"]],
            request_park=self.mount.request_park, settings=self.settings, publish=self.events.append,
            clock=self.clock, state_path=(tmp_path / "roof.json") if tmp_path else None)
        for name in ("open", "close"):
            self._guard(name)

    def _guard(self, name):
        original = getattr(self.roof, name)

        def guarded():
            now = self.clock()
            for source in self.mount.sources.values():
                reading = source._last
                if not (reading.parked and reading.time is not None
                        and (now - reading.time).total_seconds() <= self.settings.park_max_age_s
                        and self.mount.parked):
                    self.violations.append(f"{name} at {now} with {source.name} {reading}")
            original()
        setattr(self.roof, name, guarded)

    def run(self, seconds: float, every: float = 1.0, safety: str | None = None):
        for _ in range(int(seconds / every)):
            if safety is not None:
                self.controller.on_safety(safety, self.clock())
            self.controller.step()
            self.clock.advance(every)
        return self.controller.status

    @property
    def motions(self):
        return [a for _, a in self.roof.commands if a in ("open", "close")]


def test_unsafe_closes_an_open_roof_when_the_mount_is_parked():
    rig = Rig(roof=RoofPosition.OPEN)
    status = rig.run(15, safety="unsafe")
    assert status.state is RoofPosition.CLOSED
    assert rig.motions == ["close"] and not rig.violations


def test_unknown_and_silence_count_as_unsafe():
    rig = Rig(roof=RoofPosition.OPEN)
    assert rig.run(15, safety="unknown").state is RoofPosition.CLOSED
    rig2 = Rig(roof=RoofPosition.OPEN)
    rig2.controller.recover()  # found open at start: stays open while the sky is safe
    rig2.controller.on_safety("safe", rig2.clock())
    rig2.run(100)  # monitor still fresh: stays open
    assert rig2.roof.state is RoofPosition.OPEN
    rig2.run(40)  # no verdict for > 120 s: a dead monitor is not fine weather
    assert rig2.roof.state is RoofPosition.CLOSED


def test_unsafe_parks_first_then_closes():
    rig = Rig(roof=RoofPosition.OPEN, parked=False)
    rig.run(3, safety="unsafe")
    assert rig.mount.park_requests >= 1 and rig.motions == []
    assert rig.controller.activity == "parking"
    assert any(a.level == "warning" and "roof not moved" in a.message for a in rig.controller.alarms)
    status = rig.run(20, safety="unsafe")  # park takes 5 s, then 10 s of travel
    assert status.state is RoofPosition.CLOSED and rig.motions == ["close"] and not rig.violations
    parked_at = T0 + timedelta(seconds=5)
    assert rig.roof.commands[0][0] >= parked_at


def test_park_failure_leaves_the_roof_and_raises_a_critical_alarm():
    rig = Rig(roof=RoofPosition.OPEN, parked=False)
    rig.mount.park_fails = True
    rig.run(90, safety="unsafe")
    assert rig.roof.state is RoofPosition.OPEN and rig.motions == []
    critical = [a for a in rig.controller.alarms if a.level == "critical"]
    assert len(critical) == 1 and "not confirmed parked" in critical[0].message
    assert rig.events[-1].alarm_level == "critical"
    # the park succeeds late: the roof closes then; the CRITICAL alarm stays until acknowledged
    rig.mount.park_fails = False
    assert rig.run(30, safety="unsafe").state is RoofPosition.CLOSED
    assert not rig.violations and rig.events[-1].alarm_level == "critical"
    rig.controller.acknowledge()
    assert rig.events[-1].alarm is None and rig.events[-1].state == "closed"


def test_a_motion_started_elsewhere_the_wrong_way_is_stopped():
    rig = Rig()
    rig.roof.open()  # someone at the roof's own panel, while the sky is bad
    rig.run(2, safety="unsafe")
    assert [a for _, a in rig.roof.commands][:2] == ["open", "abort"]
    assert rig.run(15, safety="unsafe").state is RoofPosition.CLOSED


@pytest.mark.parametrize("which", ["indi", "node"])
def test_a_stale_park_source_blocks_motion(which):
    rig = Rig(roof=RoofPosition.OPEN)
    rig.mount.sources[which].read()
    rig.mount.sources[which].dropped = True
    rig.clock.advance(31)  # older than park_max_age_s
    rig.run(60, safety="unsafe")
    assert rig.motions == [] and rig.roof.state is RoofPosition.OPEN
    assert rig.controller.mount_parked[rig.mount.sources[which].name] is None
    rig.mount.sources[which].dropped = False
    assert rig.run(15, safety="unsafe").state is RoofPosition.CLOSED


def test_unparking_during_motion_aborts_it():
    rig = Rig(roof=RoofPosition.OPEN)
    rig.run(3, safety="unsafe")
    assert rig.roof.state is RoofPosition.CLOSING
    rig.mount.unpark()
    rig.run(1, safety="unsafe")
    assert rig.roof.commands[-1][1] == "abort"
    assert rig.controller.status.state is RoofPosition.ERROR


def test_open_only_when_safe_and_after_the_minimum_safe_time():
    rig = Rig()
    rig.run(10, safety="unsafe")
    rig.controller.on_safety("safe", rig.clock())
    decision = rig.controller.command("open")
    assert not decision.accepted and "needs 300 s" in decision.reason
    rig.run(300, safety="safe")
    assert rig.controller.command("open").accepted
    assert rig.run(15, safety="safe").state is RoofPosition.OPEN
    assert not rig.violations


def test_manual_open_refused_while_unsafe_and_manual_close_always_accepted():
    rig = Rig()
    rig.run(5, safety="unsafe")
    assert not rig.controller.command("open").accepted
    assert rig.motions == []
    rig.run(400, safety="safe")
    rig.controller.command("open")
    rig.run(15, safety="safe")
    assert rig.controller.command("close").accepted
    assert rig.run(15, safety="safe").state is RoofPosition.CLOSED
    assert rig.motions == ["open", "close"]


def test_auto_open_and_a_gust_does_not_cycle_the_roof():
    rig = Rig(auto_open=True)
    assert rig.run(320, safety="safe").state is RoofPosition.OPEN
    rig.run(1, safety="unsafe")  # one bad reading
    rig.run(30, safety="safe")
    assert rig.roof.state is RoofPosition.CLOSED
    rig.run(200, safety="safe")
    assert rig.roof.state is RoofPosition.CLOSED  # not reopened within min_safe_s
    assert rig.run(120, safety="safe").state is RoofPosition.OPEN
    assert rig.motions == ["open", "close", "open"]


def test_manual_open_with_the_mount_unparked_asks_for_a_park_first():
    rig = Rig(parked=False)
    rig.run(310, safety="safe")
    assert rig.controller.command("open").accepted
    rig.run(3, safety="safe")
    assert rig.motions == [] and rig.mount.park_requests >= 1
    assert rig.run(20, safety="safe").state is RoofPosition.OPEN and not rig.violations


def test_stuck_roof_times_out_to_error_and_close_is_retried():
    rig = Rig(roof=RoofPosition.OPEN)
    rig.roof.stuck = True
    rig.run(25, safety="unsafe")
    assert rig.controller.status.state is RoofPosition.ERROR
    assert any("did not finish closing" in a.message and a.level == "critical" for a in rig.controller.alarms)
    assert rig.roof.commands[-1][1] == "abort"
    rig.roof.stuck = False
    assert rig.run(50, safety="unsafe").state is RoofPosition.CLOSED
    assert rig.motions == ["close", "close"]


def test_a_failing_roof_is_an_error_and_an_open_is_not_retried():
    rig = Rig()
    rig.run(310, safety="safe")
    rig.roof.fail_next = True
    rig.controller.command("open")
    rig.run(100, safety="safe")
    assert rig.controller.status.state is RoofPosition.ERROR and rig.motions == ["open"]
    assert rig.controller.command("open").accepted  # a person tries again
    assert rig.run(15, safety="safe").state is RoofPosition.OPEN


def test_sky_turning_bad_while_opening_aborts_and_closes():
    rig = Rig()
    rig.run(310, safety="safe")
    rig.controller.command("open")
    rig.run(4, safety="safe")
    rig.run(20, safety="unsafe")
    assert [a for _, a in rig.roof.commands] == ["open", "abort", "close"]
    assert rig.roof.state is RoofPosition.CLOSED


def test_events_on_every_change_and_state_recovered_from_the_device(tmp_path):
    rig = Rig(tmp_path, roof=RoofPosition.OPEN)
    rig.controller.recover()
    rig.run(15, safety="unsafe")
    states = [e.state for e in rig.events]
    assert states[0] == "open" and "closing" in states and states[-1] == "closed"
    assert all(isinstance(parse_message(e.to_json()), RoofState) for e in rig.events)
    saved = parse_message((tmp_path / "roof.json").read_text())
    assert saved.state == "closed"
    # restart: the file says closed, but someone opened the roof by hand; the device wins
    roof = SimulatedRoof(rig.clock, initial=RoofPosition.OPEN)
    again = RoofController("roof1", roof, list(rig.mount.sources.values()), request_park=rig.mount.request_park,
                           settings=rig.settings, clock=rig.clock, state_path=tmp_path / "roof.json")
    assert again.recover().state is RoofPosition.OPEN
    # restarted in the middle of a motion: followed to its end
    moving = SimulatedRoof(rig.clock, initial=RoofPosition.OPEN)
    moving.close()
    third = RoofController("roof1", moving, list(rig.mount.sources.values()), request_park=rig.mount.request_park,
                           settings=rig.settings, clock=rig.clock)
    assert third.recover().state is RoofPosition.CLOSING
    third.on_safety("unsafe", rig.clock())
    for _ in range(12):
        rig.clock.advance(1)
        third.step()
    assert third.status.state is RoofPosition.CLOSED and [a for _, a in moving.commands] == ["close"]


def test_an_unreadable_roof_is_unknown_and_not_moved_blindly():
    rig = Rig(roof=RoofPosition.OPEN)
    rig.roof.offline = True
    rig.run(5, safety="unsafe")
    assert rig.controller.status.state in (RoofPosition.UNKNOWN, RoofPosition.ERROR)
    assert rig.motions == []
    assert any(a.level == "critical" for a in rig.controller.alarms)
    rig.roof.offline = False
    assert rig.run(50, safety="unsafe").state is RoofPosition.CLOSED


def test_two_park_sources_are_required():
    clock = Clock()
    mount = SimulatedMount(clock)
    with pytest.raises(ValueError):
        RoofController("roof1", SimulatedRoof(clock), [mount.sources["indi"]], request_park=mount.request_park)
