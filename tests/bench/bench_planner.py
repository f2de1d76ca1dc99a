"""The night planner against astroplan's schedulers (not part of the test suite).

    .venv/bin/python -m tests.bench.bench_planner [--targets 1000] [--priority-subset 40]
                                                  [--sequential-subset 3]

Input: ``--targets`` random targets (seeded), three imaging plans each, every plan with its own
priority, rows and constraints (minimum altitude, maximum airmass on some, moon separation,
twilight level, a time-of-night window on some). One site, one night with a bright moon.

Measured in the same run:
- OBSY's ``plan_night`` on the full input (the time includes every target's track on the fine grid;
  the night's sun and moon, shared by everything, are timed apart);
- astroplan's PriorityScheduler on the first ``--priority-subset`` targets and SequentialScheduler
  on the first ``--sequential-subset`` (here, with per-block constraints, about 0.5 s and 16 s per
  plan: the full input would take hours), each block with its own constraints, 5-minute resolution;
- OBSY again on each of those subsets, for a like-for-like ratio and fill.

For each: the time, the ratio to OBSY's time on the same input, the fraction of the usable night
(nautical dusk to dawn, the most lenient twilight the plans use) with a block in it, and every block
that breaks one of its constraints at any instant from its start to its end (checked every 30 s with
astropy, by ``master.planning.check``). astroplan applies moon separation whether or not the moon is
up (OBSY only while it is up): that makes it stricter, never a false violation. OBSY's own maximum
moon illumination has no astroplan counterpart with the same meaning, so the bench leaves it out.
"""
from __future__ import annotations

import argparse
import time
import warnings
from datetime import date, datetime, timedelta, timezone

import numpy as np

from master.planning.check import violations
from master.planning.planner import Block, Constraints, ExposureRow, PlanRequest, plan_night
from master.planning.sky import NightSky, Site, offline_astropy

SITE = Site(44.0, 5.0, 600)  # Haute-Provence-like
NIGHT = date(2026, 11, 20)  # a waxing moon, up in the evening
USABLE = "nautical"


def make_requests(targets: int, seed: int = 7) -> list[PlanRequest]:
    rng = np.random.default_rng(seed)
    requests = []
    dusk = datetime(2026, 11, 20, 17, 30, tzinfo=timezone.utc)
    for t in range(targets):
        ra, dec = float(rng.uniform(0, 360)), float(np.rad2deg(np.arcsin(rng.uniform(-0.5, 1.0))))
        for p in range(3):
            window = None
            if rng.random() < 0.25:
                start = dusk + timedelta(minutes=int(rng.integers(0, 9 * 60)))
                window = (start, start + timedelta(minutes=int(rng.integers(60, 5 * 60))))
            constraints = Constraints(
                min_altitude_deg=float(rng.choice([20, 25, 30, 35, 40, 50])),
                max_airmass=float(rng.choice([1.5, 2.0])) if rng.random() < 0.3 else None,
                min_moon_separation_deg=float(rng.choice([0, 10, 20, 30])),
                twilight=str(rng.choice(["nautical", "astronomical"])),
                use_horizon=False, window=window)
            rows = tuple(ExposureRow(str(f), float(rng.choice([60, 120, 300])), int(rng.integers(3, 15)))
                         for f in rng.choice(["L", "R", "G", "B", "Ha"], size=int(rng.integers(1, 3)), replace=False))
            requests.append(PlanRequest(f"T{t:04d}-{p}", ra, dec, rows, priority=int(rng.integers(1, 6)),
                                        constraints=constraints))
    return requests


def usable_night(sky: NightSky) -> tuple[datetime, datetime]:
    return sky.night_bounds(USABLE)


def fill(blocks, night: tuple[datetime, datetime]) -> float:
    start, end = night
    covered = sum(max(0.0, (min(b.end, end) - max(b.start, start)).total_seconds()) for b in blocks)
    return covered / (end - start).total_seconds()


def run_obsy(sky, requests):
    began = time.perf_counter()
    plan = plan_night(sky, requests, min_block_min=20)
    return time.perf_counter() - began, plan.blocks


def run_astroplan(kind: str, requests, night: tuple[datetime, datetime]):
    offline_astropy()
    import astropy.units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time
    from astroplan import (AirmassConstraint, AltitudeConstraint, AtNightConstraint, FixedTarget,
                           MoonSeparationConstraint, Observer, TimeConstraint)
    from astroplan.scheduling import (ObservingBlock, PriorityScheduler, Schedule, SequentialScheduler,
                                      Transitioner)

    observer = Observer(location=EarthLocation(lat=SITE.latitude_deg * u.deg, lon=SITE.longitude_deg * u.deg,
                                               height=SITE.elevation_m * u.m))
    blocks = []
    for r in requests:
        c = r.constraints
        constraints = [AltitudeConstraint(min=c.min_altitude_deg * u.deg),
                       AtNightConstraint(max_solar_altitude={"nautical": -12, "astronomical": -18}[c.twilight] * u.deg)]
        if c.max_airmass:
            constraints.append(AirmassConstraint(max=c.max_airmass))
        if c.min_moon_separation_deg:
            constraints.append(MoonSeparationConstraint(min=c.min_moon_separation_deg * u.deg))
        if c.window:
            constraints.append(TimeConstraint(Time(c.window[0]), Time(c.window[1])))
        target = FixedTarget(SkyCoord(r.ra_deg * u.deg, r.dec_deg * u.deg), name=r.name)
        blocks.append(ObservingBlock(target, r.duration_s * u.s, r.priority, configuration={"name": r.name},
                                     constraints=constraints))
    scheduler_class = PriorityScheduler if kind == "priority" else SequentialScheduler
    scheduler = scheduler_class(constraints=[], observer=observer, transitioner=Transitioner(),
                                time_resolution=5 * u.min, gap_time=5 * u.min)
    schedule = Schedule(Time(night[0]), Time(night[1]))
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler(blocks, schedule)
    elapsed = time.perf_counter() - began
    placed = []
    for b in schedule.scheduled_blocks:
        if isinstance(b, ObservingBlock):
            start = b.start_time.to_datetime(timezone=timezone.utc)
            end = b.end_time.to_datetime(timezone=timezone.utc)
            placed.append(Block(b.configuration["name"], start, end, [], 0.0))
    return elapsed, placed


def report(label: str, seconds: float, baseline: float, blocks, requests, night) -> None:
    broken = violations(SITE, blocks, requests)
    print(f"{label:<46} {seconds:8.2f} s  ×{seconds / baseline:8.1f}  fill {fill(blocks, night):6.1%}  "
          f"blocks {len(blocks):4d}  violations {len(broken)}")
    for line in broken[:10]:
        print(f"    {line}")
    if len(broken) > 10:
        print(f"    ... and {len(broken) - 10} more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--priority-subset", type=int, default=40, help="targets given to PriorityScheduler (0: skip)")
    parser.add_argument("--sequential-subset", type=int, default=3,
                        help="targets given to SequentialScheduler (0: skip)")
    args = parser.parse_args()
    requests = make_requests(args.targets)

    began = time.perf_counter()
    sky = NightSky(SITE, NIGHT)
    print(f"night {NIGHT} at {SITE.latitude_deg}N {SITE.longitude_deg}E: sun and moon on the grid "
          f"{time.perf_counter() - began:.2f} s (once per night and site, shared by all plans)")
    night = usable_night(sky)
    print(f"usable night ({USABLE}): {night[0]:%H:%M}–{night[1]:%H:%M} UTC; {len(requests)} plans on "
          f"{args.targets} targets. astroplan gets subsets (first N targets, their 3 plans each): "
          f"it takes far too long on the full input")
    run_obsy(sky, requests[:30])  # warm-up (imports, caches), not timed
    full_s, full_blocks = run_obsy(sky, requests)
    print(f"{'scheduler':<46} {'time':>10}  {'ratio':>9}")
    report(f"OBSY plan_night, {len(requests)} plans", full_s, full_s, full_blocks, requests, night)
    for kind, targets in (("priority", args.priority_subset), ("sequential", args.sequential_subset)):
        if not targets:
            continue
        subset = requests[:3 * targets]
        sub_s, sub_blocks = run_obsy(sky, subset)
        report(f"OBSY plan_night, {len(subset)} plans", sub_s, sub_s, sub_blocks, subset, night)
        other_s, other_blocks = run_astroplan(kind, subset, night)
        report(f"astroplan {kind.title()}Scheduler, {len(subset)} plans", other_s, sub_s, other_blocks, subset, night)
    print("ratio: the scheduler's time over OBSY's on the same input")


if __name__ == "__main__":
    main()
