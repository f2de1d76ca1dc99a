"""The night planner against a greedy scheduler, and the constraints it honours."""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from master.planning.planner import (Constraints, ExposureRow, PlanRequest, allowed_slots, plan_greedy, plan_night,
                                     to_schedule_job)
from master.planning.sky import NightSky, Site

STRASBOURG = Site(48.58, 7.75, 140)


@pytest.fixture(scope="module")
def sky():
    return NightSky(STRASBOURG, date(2026, 11, 24))


def hours(h: float, per_frame_s: float = 300) -> tuple[ExposureRow, ...]:
    return (ExposureRow("L", per_frame_s - 10, int(h * 3600 // per_frame_s)),)


# Late November from Strasbourg: the Dumbbell sets in the early evening, Andromeda is up most of
# the night, Orion rises late. Named so that a greedy scheduler meets Andromeda first at dusk.
DUMBBELL = PlanRequest("Dumbbell", 299.90, 22.72, hours(2))
ANDROMEDA = PlanRequest("Andromeda", 10.68, 41.27, hours(4))
ORION = PlanRequest("Orion", 83.82, -5.39, hours(3))


def test_night_and_twilight(sky):
    start, end = sky.night_bounds("astronomical")
    assert datetime(2026, 11, 24, 17, 20, tzinfo=timezone.utc) <= start <= datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)
    assert datetime(2026, 11, 25, 4, 50, tzinfo=timezone.utc) <= end <= datetime(2026, 11, 25, 5, 30, tzinfo=timezone.utc)
    civil = sky.night_bounds("civil")
    assert civil[0] < start and civil[1] > end


def test_planner_fits_everything_a_greedy_scheduler_cannot(sky):
    requests = [DUMBBELL, ANDROMEDA, ORION]
    planned = plan_night(sky, requests)
    greedy = plan_greedy(sky, requests)
    assert planned.unplaced == {}
    for request in requests:
        assert planned.seconds(request.name) >= request.duration_s
    # Greedy starts Andromeda at dusk and runs it to the end: the Dumbbell has set by then.
    assert "Dumbbell" in greedy.unplaced and greedy.seconds("Dumbbell") == 0
    # No two blocks overlap and every block is inside its allowed slots.
    used = [slot for block in planned.blocks for slot in block.slots]
    assert len(used) == len(set(used))
    for block in planned.blocks:
        ok, _score, _airmass = allowed_slots(sky, {r.name: r for r in requests}[block.name])
        assert ok[block.slots].all()


def test_priority_wins_over_flexibility(sky):
    urgent = PlanRequest("Andromeda", 10.68, 41.27, hours(9), priority=1)
    planned = plan_night(sky, [DUMBBELL, urgent])
    assert planned.seconds("Andromeda") > planned.seconds("Dumbbell")
    assert "Dumbbell" in planned.unplaced


def test_blocks_are_placed_high_in_the_sky(sky):
    short = PlanRequest("Orion", 83.82, -5.39, hours(1))
    [block] = plan_night(sky, [short]).blocks
    track = sky.target(83.82, -5.39)
    ok, _score, _airmass = allowed_slots(sky, short)
    best_alt = np.sort(track.alt[ok])[-6:].mean()
    assert track.alt[block.slots].mean() >= best_alt - 1.0  # the hour around transit


def test_constraints_moon_horizon_window_and_impossible(sky):
    base = allowed_slots(sky, ANDROMEDA)[0].sum()
    near_full_moon = PlanRequest("A", 10.68, 41.27, hours(1),
                                 constraints=Constraints(max_moon_illumination=0.5))
    assert allowed_slots(sky, near_full_moon)[0].sum() < base  # the moon is nearly full tonight
    walled = NightSky(Site(48.58, 7.75, 140, horizon=((0, 85), (120, 85), (240, 85))), date(2026, 11, 24))
    assert not allowed_slots(walled, ANDROMEDA)[0].any()  # Andromeda culminates at 83°, below the wall
    gap_south = NightSky(Site(48.58, 7.75, 140, horizon=((0, 85), (150, 85), (160, 0), (200, 0), (210, 85))),
                         date(2026, 11, 24))
    south_only = allowed_slots(gap_south, ORION)[0]
    assert 0 < south_only.sum() < allowed_slots(sky, ORION)[0].sum()  # only while it crosses the gap
    window = Constraints(window=(datetime(2026, 11, 24, 20, tzinfo=timezone.utc),
                                 datetime(2026, 11, 24, 21, tzinfo=timezone.utc)))
    windowed = PlanRequest("A", 10.68, 41.27, hours(3), constraints=window)
    plan = plan_night(sky, [windowed])
    [block] = plan.blocks  # the hour, ending at 21:00 and not a slot later
    assert (block.start, block.end) == window.window and plan.seconds("A") == 3600
    assert plan.unplaced["A"] == "120 of 180 min not placed"
    south = PlanRequest("Southern", 95.99, -52.7, hours(1))  # Canopus never rises at 48.6 N
    assert plan_night(sky, [south]).unplaced["Southern"].startswith("never observable")


def test_schedule_job_follows_the_plan_and_splits_counts(sky):
    requests = [DUMBBELL, ANDROMEDA, ORION]
    plan = plan_night(sky, requests)
    job = to_schedule_job(plan, requests, "2026-11-24", "scope1")
    assert [t.name for t in job.targets] == [b.name for b in plan.blocks]
    for request in requests:
        frames = sum(row.count for t in job.targets if t.name == request.name for row in t.rows)
        assert frames == sum(r.count for r in request.rows)


def test_plan_command_prints_and_writes_a_job(tmp_path):
    import json

    from click.testing import CliRunner

    from common.cli import obsy
    from common.contracts import ScheduleJob, parse_message

    plan = {"latitude_deg": 48.58, "longitude_deg": 7.75, "requests": [
        {"name": "Dumbbell", "ra_deg": 299.9, "dec_deg": 22.72, "rows": [{"filter": "Ha", "exposure_s": 290, "count": 24}]},
        {"name": "Andromeda", "ra_deg": 10.68, "dec_deg": 41.27, "rows": [{"filter": "L", "exposure_s": 290, "count": 48}]}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = CliRunner().invoke(obsy, ["plan", str(tmp_path / "plan.json"), "--date", "2026-11-24", "--json",
                                       "--job-out", str(tmp_path / "job.json")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [b["target"] for b in out["blocks"]] == ["Dumbbell", "Andromeda"] and out["unplaced"] == {}
    job = parse_message((tmp_path / "job.json").read_text(), ScheduleJob)
    assert [t.name for t in job.targets] == ["Dumbbell", "Andromeda"]
    bad = CliRunner().invoke(obsy, ["plan", str(tmp_path / "job.json")])
    assert bad.exit_code == 1 and ("Extra inputs are not permitted" in bad.output or "Field required" in bad.output)
