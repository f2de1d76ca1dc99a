from datetime import datetime, timedelta, timezone

from master.planning.conditions import CloudCover
from master.replan_decision import clouded_targets, decide

NOW = datetime(2026, 12, 2, 1, 30, tzinfo=timezone.utc)
EAST_CLOUDY = CloudCover.from_map(NOW - timedelta(minutes=2), [
    {"alt_min": 30, "alt_max": 90, "az_min": 0, "az_max": 180, "cloud_fraction": 0.9},
    {"alt_min": 30, "alt_max": 90, "az_min": 180, "az_max": 360, "cloud_fraction": 0.1}], "obs/allsky")
POSITIONS = {"M42": (50.0, 120.0), "M31": (60.0, 270.0), "M45": (40.0, 90.0)}


def test_clouded_targets_are_those_in_a_clouded_region():
    assert clouded_targets(EAST_CLOUDY, POSITIONS) == ["M42", "M45"]
    assert clouded_targets(None, POSITIONS) == []


def test_clouds_over_the_current_target_replan():
    got = decide(["M42", "M31"], NOW, NOW - timedelta(hours=2), cover=EAST_CLOUDY, positions=POSITIONS)
    assert got.replan and "M42" in got.why and "obs/allsky" in got.why


def test_clouds_only_over_a_later_target_do_not_replan():
    got = decide(["M31", "M31b", "M45"], NOW, NOW - timedelta(hours=2), cover=EAST_CLOUDY, positions=POSITIONS)
    assert not got.replan


def test_safe_again_after_unsafe_replans_but_not_unsafe_or_unknown():
    sent = NOW - timedelta(hours=2)
    assert decide(["M31"], NOW, sent, safety="safe", safety_before="unsafe").replan
    assert not decide(["M31"], NOW, sent, safety="unsafe", safety_before="safe").replan
    assert not decide(["M31"], NOW, sent, safety="safe", safety_before="safe").replan


def test_at_most_once_per_interval():
    sent = NOW - timedelta(hours=2)
    recent = NOW - timedelta(minutes=5)
    got = decide(["M42"], NOW, sent, cover=EAST_CLOUDY, positions=POSITIONS, last_replan_at=recent,
                 min_interval_min=20)
    assert not got.replan and "20" in got.why
    assert decide(["M42"], NOW, sent, cover=EAST_CLOUDY, positions=POSITIONS, last_replan_at=recent,
                  min_interval_min=4).replan


def test_nothing_sent_or_nothing_left_never_replans():
    assert not decide([], NOW, NOW - timedelta(hours=2), safety="safe", safety_before="unsafe").replan
    assert not decide(["M42"], NOW, None, cover=EAST_CLOUDY, positions=POSITIONS).replan


def test_the_interval_is_configured_and_checked():
    import pytest
    from pydantic import ValidationError

    from common.config import PlannerConfig

    assert PlannerConfig().replan_every_min == 20 and PlannerConfig().auto_replan
    assert PlannerConfig(replan_every_min=5).replan_every_min == 5
    for bad in (0, -3, 10_000):
        with pytest.raises(ValidationError):
            PlannerConfig(replan_every_min=bad)
