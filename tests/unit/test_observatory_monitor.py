"""The safety decision: hysteresis, rain, minimum safe time, staleness, required vs advisory."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from node_observatory.safety import (FlagRule, HysteresisRule, Reading, SafetyMonitor, SafetySource, SourcePolicy,
                                     SourceSlot, Verdict)

T0 = datetime(2026, 11, 24, 21, 0, tzinfo=timezone.utc)


class Scripted(SafetySource):
    """Values from a function of time; the reading is stamped ``lag_s`` before ``now``."""

    def __init__(self, name, values, lag_s=0.0):
        super().__init__(name)
        self.values = values
        self.lag_s = lag_s
        self.reads = 0

    def measure(self, now):
        self.reads += 1
        return Reading(self.name, now - timedelta(seconds=self.lag_s), dict(self.values(now)))


class Broken(SafetySource):
    def measure(self, now):
        raise RuntimeError("driver exploded")


def weather(values, *, required=True, cadence_s=60.0, max_age_s=300.0, lag_s=0.0, name="weather"):
    rules = [FlagRule("rain"), HysteresisRule("wind_kmh", 40.0, 30.0)]
    return SourceSlot(Scripted(name, values, lag_s), SourcePolicy(cadence_s, max_age_s, required, rules))


def calm(now):
    return {"wind_kmh": 10.0, "rain": False}


def test_hysteresis_rule_latches_between_limits():
    rule = HysteresisRule("wind_kmh", 40, 30)
    assert rule.update({"wind_kmh": 35})[0] is Verdict.UNSAFE  # band, nothing known yet
    assert rule.update({"wind_kmh": 25})[0] is Verdict.SAFE
    assert rule.update({"wind_kmh": 39})[0] is Verdict.SAFE  # band keeps safe
    verdict, reason = rule.update({"wind_kmh": 41})
    assert verdict is Verdict.UNSAFE and "wind_kmh 41" in reason and "safe again at 30" in reason
    assert rule.update({"wind_kmh": 31})[0] is Verdict.UNSAFE  # band keeps unsafe
    assert rule.update({"wind_kmh": 30})[0] is Verdict.SAFE
    assert rule.update({"wind_kmh": None})[0] is Verdict.UNKNOWN
    assert rule.update({})[0] is Verdict.UNKNOWN


def test_hysteresis_rule_below_and_validation():
    rule = HysteresisRule("dew_margin_c", 2.0, 3.0, "below")
    assert rule.update({"dew_margin_c": 1.5})[0] is Verdict.UNSAFE
    assert rule.update({"dew_margin_c": 2.5})[0] is Verdict.UNSAFE
    assert rule.update({"dew_margin_c": 3.0})[0] is Verdict.SAFE
    with pytest.raises(ValueError, match="must not exceed"):
        HysteresisRule("wind_kmh", 30, 40)
    with pytest.raises(ValueError, match="must not be below"):
        HysteresisRule("x", 3, 2, "below")
    with pytest.raises(ValueError, match="direction"):
        HysteresisRule("x", 3, 2, "sideways")


def test_flag_rule():
    rule = FlagRule("rain")
    assert rule.update({"rain": True}) == (Verdict.UNSAFE, "rain reported")
    assert rule.update({"rain": False})[0] is Verdict.SAFE
    assert rule.update({})[0] is Verdict.UNKNOWN
    assert rule.update({"rain": "maybe"})[0] is Verdict.UNKNOWN


def test_gusty_wind_for_an_hour_flips_at_most_once():
    rng = random.Random(42)
    gusts = {}

    def gusty(now):
        return {"wind_kmh": gusts.setdefault(now, 35.0 + rng.uniform(-7.0, 7.0)), "rain": False}

    monitor = SafetyMonitor([weather(gusty, cadence_s=10)], min_safe_s=900, hold_at_start=False)
    states = [monitor.step(T0 + timedelta(seconds=10 * i)).state for i in range(360)]
    flips = sum(1 for a, b in zip(states, states[1:]) if a is not b)
    assert flips <= 1
    assert max(gusts.values()) > 40 and min(gusts.values()) < 30  # the series crosses both limits
    # without hysteresis and without a minimum safe time the same series flaps
    rng.seed(42)
    gusts.clear()
    naive = SafetyMonitor([SourceSlot(Scripted("w", gusty), SourcePolicy(10, 300, True,
                                                                         [HysteresisRule("wind_kmh", 40, 40)]))],
                          min_safe_s=0, hold_at_start=False)
    naive_states = [naive.step(T0 + timedelta(seconds=10 * i)).state for i in range(360)]
    assert sum(1 for a, b in zip(naive_states, naive_states[1:]) if a is not b) > 10


def test_rain_is_unsafe_at_once_and_safe_only_after_min_safe_time():
    raining = {"now": False}
    monitor = SafetyMonitor([weather(lambda now: {"wind_kmh": 5.0, "rain": raining["now"]}, cadence_s=60)],
                            min_safe_s=900, hold_at_start=False)
    assert monitor.step(T0).state is Verdict.SAFE
    raining["now"] = True
    status = monitor.step(T0 + timedelta(seconds=60))
    assert status.state is Verdict.UNSAFE and not status.is_safe
    assert any("rain reported" in r for r in status.reasons)
    raining["now"] = False
    t = T0 + timedelta(seconds=120)
    status = monitor.step(t)
    assert status.state is Verdict.UNSAFE and status.conditions is Verdict.SAFE
    assert any("waiting until 900 s" in r for r in status.reasons)
    assert monitor.step(t + timedelta(seconds=840)).state is Verdict.UNSAFE
    status = monitor.step(t + timedelta(seconds=900))
    assert status.state is Verdict.SAFE and status.is_safe and status.safe_since == t


def test_a_blip_restarts_the_minimum_safe_time():
    wind = {"now": 50.0}
    monitor = SafetyMonitor([weather(lambda now: {"wind_kmh": wind["now"], "rain": False}, cadence_s=60)],
                            min_safe_s=600)
    assert monitor.step(T0).state is Verdict.UNSAFE
    wind["now"] = 20.0
    monitor.step(T0 + timedelta(seconds=60))
    wind["now"] = 45.0
    monitor.step(T0 + timedelta(seconds=300))
    wind["now"] = 20.0
    assert monitor.step(T0 + timedelta(seconds=660)).state is Verdict.UNSAFE
    assert monitor.step(T0 + timedelta(seconds=1200)).state is Verdict.UNSAFE
    assert monitor.step(T0 + timedelta(seconds=1260)).state is Verdict.SAFE


def test_hold_at_start_waits_min_safe_time():
    monitor = SafetyMonitor([weather(calm)], min_safe_s=300)
    assert monitor.step(T0).state is Verdict.UNSAFE
    assert monitor.step(T0 + timedelta(seconds=300)).state is Verdict.SAFE


def test_stale_data_is_unknown_and_acts_as_unsafe():
    monitor = SafetyMonitor([weather(calm, cadence_s=3600, max_age_s=120)], min_safe_s=0, hold_at_start=False)
    assert monitor.step(T0).state is Verdict.SAFE
    status = monitor.step(T0 + timedelta(seconds=121))
    assert status.state is Verdict.UNKNOWN and not status.is_safe
    assert status.sources[0].age_s == 121
    assert "stale" in status.reasons[0] and "max 120 s" in status.reasons[0]


def test_old_timestamp_on_a_fresh_read_is_stale_and_future_is_untrusted():
    monitor = SafetyMonitor([weather(calm, lag_s=600)], min_safe_s=0, hold_at_start=False)
    assert monitor.step(T0).state is Verdict.UNKNOWN
    monitor = SafetyMonitor([weather(calm, lag_s=-3600)], min_safe_s=0, hold_at_start=False)
    status = monitor.step(T0)
    assert status.state is Verdict.UNKNOWN and "in the future" in status.reasons[0]


def test_missing_data_no_reading_and_no_required_source():
    monitor = SafetyMonitor([weather(lambda now: {"rain": False})], min_safe_s=0, hold_at_start=False)
    status = monitor.step(T0)
    assert status.state is Verdict.UNKNOWN and "wind_kmh: no valid value" in status.reasons[0]
    assert SafetyMonitor([weather(calm)]).evaluate(T0).sources[0].reasons == ("no reading yet",)
    status = SafetyMonitor([weather(calm, required=False)], min_safe_s=0).step(T0)
    assert status.state is Verdict.UNKNOWN and status.reasons == ("no required safety source is configured",)


def test_required_unsafe_beats_unknown_and_advisory_never_decides():
    rain = weather(lambda now: {"wind_kmh": 5.0, "rain": True}, name="rain")
    broken = SourceSlot(Broken("broken"), SourcePolicy(required=True))
    monitor = SafetyMonitor([rain, broken], min_safe_s=0, hold_at_start=False)
    status = monitor.step(T0)
    assert status.state is Verdict.UNSAFE
    assert "broken: source failed: RuntimeError: driver exploded" in status.reasons

    advisory_bad = weather(lambda now: {"wind_kmh": 80.0, "rain": True}, required=False, name="kp")
    advisory_broken = SourceSlot(Broken("aurora"), SourcePolicy(required=False))
    monitor = SafetyMonitor([weather(calm), advisory_bad, advisory_broken], min_safe_s=0, hold_at_start=False)
    status = monitor.step(T0)
    assert status.state is Verdict.SAFE and status.is_safe
    assert any(r.startswith("kp (advisory): rain reported") for r in status.reasons)
    assert [s.verdict for s in status.sources] == [Verdict.SAFE, Verdict.UNSAFE, Verdict.UNKNOWN]


def test_sources_are_read_on_their_own_cadence():
    fast, slow = weather(calm, cadence_s=10, name="fast"), weather(calm, cadence_s=60, name="slow")
    monitor = SafetyMonitor([fast, slow], min_safe_s=0)
    for i in range(13):
        monitor.poll(T0 + timedelta(seconds=5 * i))
    assert (fast.source.reads, slow.source.reads) == (7, 2)


def test_monitor_rejects_bad_setup_and_status_serialises():
    with pytest.raises(ValueError, match="repeated: weather"):
        SafetyMonitor([weather(calm), weather(calm)])
    with pytest.raises(ValueError, match="negative"):
        SafetyMonitor([], min_safe_s=-1)
    with pytest.raises(ValueError, match="positive"):
        SourcePolicy(cadence_s=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Reading("x", datetime(2026, 1, 1))
    data = SafetyMonitor([weather(lambda now: {"wind_kmh": float("nan"), "rain": False})]).step(T0).to_dict()
    assert data["state"] == "unknown" and data["is_safe"] is False
    assert data["sources"][0]["reading"]["values"]["wind_kmh"] is None
    assert data["sources"][0]["age_s"] == 0.0


def test_unsafe_after_ignores_a_short_gust_but_not_a_sustained_one():
    rule = HysteresisRule("wind_kmh", 40, 30, unsafe_after_s=60)
    assert rule.update({"wind_kmh": 50}, T0)[0] is Verdict.UNSAFE  # no earlier verdict: at once
    assert rule.update({"wind_kmh": 20}, T0)[0] is Verdict.SAFE
    verdict, note = rule.update({"wind_kmh": 45}, T0 + timedelta(seconds=10))
    assert verdict is Verdict.SAFE and note == "wind_kmh 45 above 40 for 0 s; unsafe after 60 s"
    assert rule.update({"wind_kmh": 35}, T0 + timedelta(seconds=30))[0] is Verdict.SAFE  # gust over
    assert rule.update({"wind_kmh": 45}, T0 + timedelta(seconds=40))[0] is Verdict.SAFE
    assert rule.update({"wind_kmh": 46}, T0 + timedelta(seconds=90))[0] is Verdict.SAFE
    assert rule.update({"wind_kmh": 47}, T0 + timedelta(seconds=100))[0] is Verdict.UNSAFE
    with pytest.raises(ValueError, match="negative"):
        HysteresisRule("x", 1, 0, unsafe_after_s=-1)


def test_rain_flag_ignores_the_wind_delay():
    slot = SourceSlot(Scripted("w", lambda now: {"wind_kmh": 10.0, "rain": now >= T0 + timedelta(seconds=60)}),
                      SourcePolicy(60, 300, True, [FlagRule("rain"), HysteresisRule("wind_kmh", 40, 30, "above", 600)]))
    monitor = SafetyMonitor([slot], min_safe_s=0, hold_at_start=False)
    assert monitor.step(T0).state is Verdict.SAFE
    assert monitor.step(T0 + timedelta(seconds=60)).state is Verdict.UNSAFE
