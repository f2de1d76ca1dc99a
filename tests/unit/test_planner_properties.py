"""Planner properties over random requests (hypothesis): every block keeps every constraint at every
instant up to its end, checked with astropy; the same input gives the same plan; a higher priority
never loses time to a lower one."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from master.planning.check import violations
from master.planning.planner import Constraints, ExposureRow, PlanRequest, plan_night
from master.planning.sky import NightSky, Site

# A site with a tree line in the east and a house in the south-west.
SITE = Site(48.58, 7.75, 140, horizon=((0, 5), (80, 25), (110, 25), (140, 5), (200, 10), (225, 40), (250, 10)))
NIGHT = date(2026, 11, 24)  # a nearly full moon
EVENING = datetime(2026, 11, 24, 16, tzinfo=timezone.utc)
PROPERTY = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def sky():
    return NightSky(SITE, NIGHT)


@st.composite
def constraints(draw):
    window = None
    if draw(st.booleans()):
        start = EVENING + timedelta(minutes=draw(st.integers(0, 12 * 60)))
        window = (start, start + timedelta(minutes=draw(st.integers(20, 8 * 60))))
    return Constraints(
        min_altitude_deg=draw(st.floats(5, 60)),
        max_airmass=draw(st.none() | st.floats(1.1, 3.0)),
        min_moon_separation_deg=draw(st.floats(0, 100)),
        max_moon_illumination=draw(st.none() | st.floats(0.5, 1.0)),
        twilight=draw(st.sampled_from(["civil", "nautical", "astronomical"])),
        use_horizon=draw(st.booleans()),
        window=window)


@st.composite
def requests(draw, max_size=8):
    count = draw(st.integers(1, max_size))
    out = []
    for i in range(count):
        rows = tuple(ExposureRow(draw(st.sampled_from(["L", "R", "Ha", None])), draw(st.sampled_from([60.0, 120.0, 300.0])),
                                 draw(st.integers(1, 40)))
                     for _ in range(draw(st.integers(1, 3))))
        out.append(PlanRequest(f"T{i}", draw(st.floats(0, 359.9)), draw(st.floats(-30, 89)), rows,
                               priority=draw(st.integers(1, 4)), constraints=draw(constraints())))
    return out


@PROPERTY
@given(reqs=requests(), min_block=st.sampled_from([10.0, 30.0, 60.0]))
def test_no_block_breaks_a_constraint_at_any_instant(sky, reqs, min_block):
    plan = plan_night(sky, reqs, min_block_min=min_block)
    assert violations(SITE, plan.blocks, reqs) == []
    by_name = {r.name: r for r in reqs}
    for block in plan.blocks:
        request = by_name[block.name]
        placed = sum(n for b in plan.blocks if b.name == block.name for _i, n in b.rows)
        # Shorter than the minimum only when it is what finishes the request.
        assert block.end - block.start >= timedelta(minutes=min_block) or placed == sum(r.count for r in request.rows)
        assert all(n >= 1 for _i, n in block.rows)
        seconds = sum(n * (request.rows[i].exposure_s + request.overhead_s) for i, n in block.rows)
        assert seconds <= (block.end - block.start).total_seconds()  # the frames it carries fit in it


@PROPERTY
@given(reqs=requests(), seed=st.randoms())
def test_the_same_input_gives_the_same_plan_in_any_order(sky, reqs, seed):
    first = plan_night(sky, reqs)
    shuffled = list(reqs)
    seed.shuffle(shuffled)
    second = plan_night(sky, shuffled)

    def shape(plan):
        return [(b.name, b.start, b.end, b.rows) for b in plan.blocks], plan.unplaced
    assert shape(first) == shape(second)


@PROPERTY
@given(reqs=requests())
def test_a_higher_priority_never_loses_time_to_a_lower_one(sky, reqs):
    full = plan_night(sky, reqs)
    for level in sorted({r.priority for r in reqs})[:-1]:
        higher = [r for r in reqs if r.priority <= level]
        alone = plan_night(sky, higher)
        for r in higher:
            slots_alone = {s for b in alone.blocks if b.name == r.name for s in b.slots}
            slots_full = {s for b in full.blocks if b.name == r.name for s in b.slots}
            assert slots_alone <= slots_full, f"{r.name} (priority {r.priority}) lost time to a lower priority"


def test_the_checker_sees_a_block_that_ends_past_a_limit(sky):
    """The property above is only as good as the checker: it must catch a block ending 5 minutes late."""
    from master.planning.planner import Block

    request = PlanRequest("Andromeda", 10.68, 41.27, (ExposureRow("L", 300, 10),),
                          constraints=Constraints(window=(datetime(2026, 11, 24, 20, tzinfo=timezone.utc),
                                                          datetime(2026, 11, 24, 21, tzinfo=timezone.utc))))
    late = Block("Andromeda", datetime(2026, 11, 24, 20, tzinfo=timezone.utc),
                 datetime(2026, 11, 24, 21, 5, tzinfo=timezone.utc), [], 1.0)
    [line] = violations(SITE, [late], [request])
    assert "time window at 21:00:30" in line
    low = PlanRequest("Low", 10.68, 41.27, (ExposureRow("L", 300, 10),),
                      constraints=Constraints(min_altitude_deg=60))
    dusk = Block("Low", datetime(2026, 11, 24, 17, tzinfo=timezone.utc),
                 datetime(2026, 11, 24, 18, tzinfo=timezone.utc), [], 1.0)
    found = "\n".join(violations(SITE, [dusk], [low]))
    assert "twilight at 17:00:00" in found and "min altitude at 17:00:00" in found
