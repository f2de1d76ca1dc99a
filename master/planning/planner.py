"""The night planner: blocks of time for each plan, placed where the sky is best for it.

Greedy schedulers (the EKOS scheduler's order) take whatever is best *now* and
run it to the end; a target that sets early then loses its only window to one
that would have been fine later. This planner places the least flexible
requests first: each request gets the contiguous run of free, allowed slots
with the best summed score, whole if it fits, else split into the best
remaining runs no shorter than ``min_block_min``. The score is the target's
altitude (sin) less the demand that requests still waiting put on each slot
(the share of their allowed time they need), so an early placement leaves the
time others depend on. Priorities come first; flexibility orders requests of
equal priority.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from common.contracts import ScheduleJob
from .sky import NightSky


@dataclass(frozen=True)
class ExposureRow:
    filter_name: str | None
    exposure_s: float
    count: int


@dataclass(frozen=True)
class Constraints:
    min_altitude_deg: float = 30.0
    max_airmass: float | None = None
    min_moon_separation_deg: float = 0.0
    max_moon_illumination: float | None = None  # 0..1, applies while the moon is up
    twilight: str = "astronomical"
    use_horizon: bool = True
    window: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class PlanRequest:
    name: str
    ra_deg: float
    dec_deg: float
    rows: tuple[ExposureRow, ...]
    priority: int = 5  # 1 most important … 10 least
    constraints: Constraints = field(default_factory=Constraints)
    overhead_s: float = 10.0  # per frame: download, dither, filter change

    @property
    def duration_s(self) -> float:
        return sum(r.count * (r.exposure_s + self.overhead_s) for r in self.rows)


@dataclass
class Block:
    name: str
    start: datetime
    end: datetime
    slots: list[int]
    mean_airmass: float


@dataclass
class NightPlan:
    blocks: list[Block]
    unplaced: dict[str, str]  # name -> why
    slot_s: float

    def seconds(self, name: str) -> float:
        return sum(len(b.slots) for b in self.blocks if b.name == name) * self.slot_s


def allowed_slots(sky: NightSky, request: PlanRequest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allowed mask, score, airmass) per slot for one request."""
    c = request.constraints
    track = sky.target(request.ra_deg, request.dec_deg)
    ok = sky.dark(c.twilight) & (track.alt >= c.min_altitude_deg)
    if c.use_horizon:
        ok &= track.above_horizon
    airmass = track.airmass
    if c.max_airmass is not None:
        ok &= airmass <= c.max_airmass
    moon_up = sky.moon_alt > 0
    if c.min_moon_separation_deg:
        ok &= ~moon_up | (track.moon_separation >= c.min_moon_separation_deg)
    if c.max_moon_illumination is not None:
        ok &= ~moon_up | (sky.moon_illumination <= c.max_moon_illumination)
    if c.window is not None:
        times = np.array([t.timestamp() for t in sky.times])
        ok &= (times >= c.window[0].timestamp()) & (times < c.window[1].timestamp())
    score = np.where(ok, np.sin(np.deg2rad(np.clip(track.alt, 0, 90))), 0.0)
    return ok, score, airmass


def _runs(free: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of consecutive True values."""
    edges = np.diff(np.concatenate([[0], free.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _best_window(free: np.ndarray, score: np.ndarray, length: int) -> tuple[int, int] | None:
    best, best_score = None, -1.0
    for start, end in _runs(free):
        if end - start < length:
            continue
        sums = np.convolve(score[start:end], np.ones(length), mode="valid")
        i = int(np.argmax(sums))
        if sums[i] > best_score:
            best, best_score = (start + i, start + i + length), float(sums[i])
    return best


def plan_night(sky: NightSky, requests: list[PlanRequest], min_block_min: float = 30.0) -> NightPlan:
    slot_s = sky.step.total_seconds()
    taken = np.zeros(len(sky.times), dtype=bool)
    info = {r.name: allowed_slots(sky, r) for r in requests}
    needed = {r.name: math.ceil(r.duration_s / slot_s) for r in requests}

    def flexibility(r: PlanRequest) -> float:
        return int(info[r.name][0].sum()) / max(needed[r.name], 1)

    blocks, unplaced = [], {}
    min_len = max(1, math.ceil(min_block_min * 60 / slot_s))
    order = sorted(requests, key=lambda r: (r.priority, flexibility(r), r.name))
    for position, request in enumerate(order):
        ok, altitude_score, airmass = info[request.name]
        demand = np.zeros(len(sky.times))
        for waiting in order[position + 1:]:
            allowed = info[waiting.name][0] & ~taken
            if allowed.any():
                demand += allowed * min(1.0, needed[waiting.name] / allowed.sum())
        score = altitude_score - demand
        if not ok.any():
            unplaced[request.name] = "never observable tonight under its constraints"
            continue
        remaining = needed[request.name]
        while remaining > 0:
            free = ok & ~taken
            window = _best_window(free, score, remaining)
            if window is None:  # split: the best run that is left, if long enough
                runs = [(s, e) for s, e in _runs(free) if e - s >= min(min_len, remaining)]
                if not runs:
                    break
                s, e = max(runs, key=lambda run: score[run[0]:run[1]].sum())
                window = _best_window(free, score, min(e - s, remaining))
            start, end = window
            taken[start:end] = True
            remaining -= end - start
            blocks.append(Block(request.name, sky.times[start], sky.times[end - 1] + sky.step,
                                list(range(start, end)), float(np.mean(airmass[start:end]))))
        if remaining == needed[request.name]:
            unplaced[request.name] = "no free time left when its constraints allow it"
        elif remaining > 0:
            unplaced[request.name] = f"placed {needed[request.name] - remaining} of {needed[request.name]} slots"
    blocks.sort(key=lambda b: b.start)
    return NightPlan(blocks, unplaced, slot_s)


def plan_greedy(sky: NightSky, requests: list[PlanRequest]) -> NightPlan:
    """The baseline: at each free moment start the best-priority request observable now and
    run it until it is done or no longer allowed (how a greedy scheduler behaves)."""
    slot_s = sky.step.total_seconds()
    info = {r.name: allowed_slots(sky, r) for r in requests}
    left = {r.name: math.ceil(r.duration_s / slot_s) for r in requests}
    order = sorted(requests, key=lambda r: (r.priority, r.name))
    blocks, i = [], 0
    while i < len(sky.times):
        choice = next((r for r in order if left[r.name] > 0 and info[r.name][0][i]), None)
        if choice is None:
            i += 1
            continue
        ok, _score, airmass = info[choice.name]
        start = i
        while i < len(sky.times) and ok[i] and left[choice.name] > 0:
            left[choice.name] -= 1
            i += 1
        blocks.append(Block(choice.name, sky.times[start], sky.times[i - 1] + sky.step,
                            list(range(start, i)), float(np.mean(airmass[start:i]))))
    unplaced = {name: f"{n} slots not placed" for name, n in left.items() if n > 0}
    return NightPlan(blocks, unplaced, slot_s)


def to_schedule_job(plan: NightPlan, requests: list[PlanRequest], job_id: str, node: str) -> ScheduleJob:
    """The telescope node's job: targets in time order, each with the frames its blocks hold."""
    by_name = {r.name: r for r in requests}
    left = {r.name: [row.count for row in r.rows] for r in requests}  # split blocks share the counts
    targets = []
    for block in plan.blocks:
        request = by_name[block.name]
        seconds = len(block.slots) * plan.slot_s
        rows = []
        for index, row in enumerate(request.rows):
            per_frame = row.exposure_s + request.overhead_s
            fits = min(left[block.name][index], int(seconds // per_frame))
            if fits > 0:
                rows.append({"filter_name": row.filter_name, "exposure_s": row.exposure_s, "count": fits})
                seconds -= fits * per_frame
                left[block.name][index] -= fits
        if rows:
            targets.append({"name": request.name, "ra_deg": request.ra_deg, "dec_deg": request.dec_deg,
                            "rows": rows})
    return ScheduleJob(job_id=job_id, node=node, targets=targets)
