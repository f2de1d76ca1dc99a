from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from common.contracts import SafetyState
from common.events import InProcessEventBus
from node_observatory.publish import SafetyPublisher
from node_observatory.safety.reading import Verdict


def status(state, seconds, reasons=()):
    when = datetime(2026, 11, 24, 22, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    return SimpleNamespace(state=state, time=when, reasons=tuple(reasons))


def test_publishes_changes_at_once_and_repeats_when_due():
    bus = InProcessEventBus()
    got = []
    bus.subscribe(["observatory.*.safety"], lambda key, message: got.append((key, message)))
    publish = SafetyPublisher(bus, "roof1", every_s=30)
    sent = [publish(status(Verdict.SAFE, 0)), publish(status(Verdict.SAFE, 10)),
            publish(status(Verdict.UNSAFE, 12, ["rain"])), publish(status(Verdict.UNSAFE, 20, ["rain"])),
            publish(status(Verdict.UNSAFE, 43, ["rain"]))]
    bus.drain()
    assert sent == [True, False, True, False, True]
    assert [(k, m.state, m.reasons) for k, m in got] == [
        ("observatory.roof1.safety", "safe", []), ("observatory.roof1.safety", "unsafe", ["rain"]),
        ("observatory.roof1.safety", "unsafe", ["rain"])]
    assert all(isinstance(m, SafetyState) for _, m in got)


def test_broker_outage_is_retried_on_the_next_tick():
    class DownBus:
        calls = 0

        def publish(self, key, message):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("broker down")

    bus = DownBus()
    publish = SafetyPublisher(bus, "roof1", every_s=30)
    assert publish(status(Verdict.UNSAFE, 0)) is False
    assert publish(status(Verdict.UNSAFE, 1)) is True
