"""The night planner: blocks of time for each plan, placed where the sky is best for it.

Greedy schedulers (the EKOS scheduler's order) take whatever is best *now* and
run it to the end; a target that sets early then loses its only window to one
that would have been fine later. This planner works a priority at a time,
highest first, gaps included, so a lower priority only ever gets time a
higher one left.
Inside a priority, requests that can finish tonight go first, then the least
flexible (the share of their allowed time they need: targets setting soonest
come early), then the closest to completion. Each request takes the
contiguous run of free, allowed slots with the best summed merit, whole if it
fits, else the best runs no shorter than the minimum block (a block may also
reserve ``switch_s`` for the slew to its target). Then the gaps left go to
what is still unfinished, so the night is used from dusk to dawn, extending
a block already there before switching to another target.

Merit per slot (see ``_allowed``): the altitude relative to the best the target
reaches tonight (image near transit), less the moon's light near the target,
less the demand that requests of the same priority still waiting put on the
slot (so an early placement leaves the time others depend on).

Constraints are checked on the sky's fine grid, from each slot's start to its
end inclusive (``NightSky.slots_where``), with a small margin for the
arcseconds between our positions and astropy's and for the curvature between
samples.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .conditions import SkyConditions
from .sky import TWILIGHT_SUN_ALT, NightSky, airmass

MARGIN_DEG = 0.05
MOON_WEIGHT = 0.3


@dataclass(frozen=True)
class ExposureRow:
    filter_name: str | None
    exposure_s: float
    count: int
    binning: int = 1
    gain: float | None = None
    offset: float | None = None


@dataclass(frozen=True)
class Constraints:
    min_altitude_deg: float = 30.0
    max_airmass: float | None = None
    min_moon_separation_deg: float = 0.0
    max_moon_illumination: float | None = None  # 0..1, applies while the moon is up
    twilight: str = "astronomical"
    use_horizon: bool = True
    window: tuple[datetime, datetime] | None = None  # the time-of-night window, absolute


@dataclass(frozen=True)
class Imaging:
    """How the node takes the frames: dithering, focusing, calibration wanted after the night."""
    dither_every: int | None = None  # frames between dithers; None: no dithering
    focus_at_start: bool = False
    focus_every_min: float | None = None
    focus_temp_delta: float | None = None  # °C
    darks: int = 0  # per exposure, binning, gain and offset used
    flats: int = 0  # per filter and binning used
    flat_exposure_s: float = 1.0


@dataclass(frozen=True)
class PlanRequest:
    name: str
    ra_deg: float
    dec_deg: float
    rows: tuple[ExposureRow, ...]
    priority: int = 5  # 1 most important … 10 least
    constraints: Constraints = field(default_factory=Constraints)
    overhead_s: float = 10.0  # per frame: download, dither, filter change
    done_fraction: float = 0.0  # of the whole plan, from earlier nights
    imaging: Imaging = field(default_factory=Imaging)

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
    rows: list[tuple[int, int]] = field(default_factory=list)  # (row index, frames) taken in this block


@dataclass
class NightPlan:
    blocks: list[Block]
    unplaced: dict[str, str]  # name -> why
    slot_s: float
    switch_s: float = 0.0

    def seconds(self, name: str) -> float:
        return sum(len(b.slots) for b in self.blocks if b.name == name) * self.slot_s


@functools.lru_cache(maxsize=256)
def _alt_for_airmass(limit: float) -> float:
    """The altitude where the airmass reaches ``limit`` (airmass falls as altitude rises)."""
    low, high = 0.0, 90.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if airmass(np.array(mid)) > limit else (low, mid)
    return high


class _Targets:
    """Every distinct target of the requests at once: tracks on the fine grid, per-slot merit parts."""

    def __init__(self, sky: NightSky, requests: list[PlanRequest], azimuth: bool = False):
        coords = sorted({(r.ra_deg, r.dec_deg) for r in requests})
        self.index = {c: i for i, c in enumerate(coords)}
        track = sky.tracks([c[0] for c in coords], [c[1] for c in coords], azimuth=azimuth)
        self.alt, self.sep = track.alt, track.moon_separation
        self.az = track.az if (azimuth or sky.site.horizon) else None
        self.above_horizon = track.above_horizon if sky.site.horizon else None
        pick = slice(None, -1, sky.sub)
        alt, sep = self.alt[:, pick], self.sep[:, pick]
        self.height = np.sin(np.deg2rad(np.clip(alt, 0, 90)))
        self.moon = (sky.moon_illumination * np.clip(np.sin(np.deg2rad(sky.moon_alt)), 0, None)
                     * np.clip(1 - sep / 90.0, 0, None))
        self.airmass = airmass(alt)


def _allowed(sky: NightSky, requests: list[PlanRequest], targets: _Targets,
             conditions: SkyConditions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(allowed slots, merit) per request and slot, all requests at once: each constraint is
    checked on every fine sample from a slot's start to its end."""
    rows = np.array([targets.index[(r.ra_deg, r.dec_deg)] for r in requests])
    cs = [r.constraints for r in requests]

    def column(values) -> np.ndarray:
        return np.array(values, dtype=float)[:, None]

    lowest = column([max(c.min_altitude_deg, _alt_for_airmass(c.max_airmass) if c.max_airmass else -90) for c in cs])
    sun_limit = column([TWILIGHT_SUN_ALT[c.twilight] for c in cs])
    ok = (sky.fine_sun_alt[None, :] < sun_limit) & (targets.alt[rows] >= lowest + MARGIN_DEG)
    if targets.above_horizon is not None:
        ok &= targets.above_horizon[rows] | ~column([c.use_horizon for c in cs]).astype(bool)
    moon_up = sky.fine_moon_alt[None, :] > 0
    separation = column([c.min_moon_separation_deg + MARGIN_DEG if c.min_moon_separation_deg else -1 for c in cs])
    ok &= ~moon_up | (targets.sep[rows] >= separation)
    illumination = column([np.inf if c.max_moon_illumination is None else c.max_moon_illumination for c in cs])
    ok &= ~moon_up | (sky.fine_moon_illumination[None, :] <= illumination)
    if any(c.window for c in cs):
        times = np.array([t.timestamp() for t in sky.fine_times])[None, :]
        ok &= ((times >= column([c.window[0].timestamp() if c.window else -np.inf for c in cs]))
               & (times <= column([c.window[1].timestamp() if c.window else np.inf for c in cs])))
    if conditions is not None:
        ok &= conditions.allowed(sky.fine_times, targets.alt[rows], None if targets.az is None else targets.az[rows])
    slots = sky.slots_where(ok)
    # Merit: altitude against the target's best tonight (image near transit), less the moon's light near it.
    height = targets.height[rows]
    best = np.maximum(np.where(slots, height, 0).max(axis=1, keepdims=True), 1e-6)
    merit = np.where(slots, height / best - MOON_WEIGHT * targets.moon[rows], 0.0)
    return slots, merit


def allowed_slots(sky: NightSky, request: PlanRequest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allowed mask, merit, airmass) per slot for one request."""
    targets = _Targets(sky, [request])
    slots, merit = _allowed(sky, [request], targets)
    return slots[0], merit[0], targets.airmass[0]


def _runs(free: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of consecutive True values."""
    edges = np.diff(np.concatenate([[0], free.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _best_window(runs, score: np.ndarray, length: int) -> tuple[int, int] | None:
    best, best_score = None, -math.inf
    for start, end in runs:
        if end - start < length:
            continue
        sums = np.convolve(score[start:end], np.ones(length), mode="valid")
        i = int(np.argmax(sums))
        if sums[i] > best_score + 1e-12:
            best, best_score = (start + i, start + i + length), float(sums[i])
    return best


class _State:
    def __init__(self, sky: NightSky, requests: list[PlanRequest], min_block_min: float, switch_s: float,
                 conditions: SkyConditions | None = None):
        self.sky, self.slot_s, self.switch_s = sky, sky.step.total_seconds(), switch_s
        self.taken = np.zeros(len(sky.times), dtype=bool)
        self.min_len = max(1, math.ceil(min_block_min * 60 / self.slot_s))
        self.ok, self.score, self.airmass, self.left = {}, {}, {}, {}
        if requests:
            targets = _Targets(sky, requests, azimuth=conditions is not None and conditions.needs_azimuth)
            slots, merit = _allowed(sky, requests, targets, conditions)
            for k, r in enumerate(requests):
                self.ok[r.name], self.score[r.name] = slots[k], merit[k]
                self.airmass[r.name] = targets.airmass[targets.index[(r.ra_deg, r.dec_deg)]]
                self.left[r.name] = r.duration_s
        self.requests = {r.name: r for r in requests}
        self.frames_left = {r.name: [row.count for row in r.rows] for r in requests}
        self.blocks: list[Block] = []

    def slots_for(self, seconds: float) -> int:
        """Slots a block needs to give ``seconds`` of imaging after switching to its target."""
        return math.ceil((seconds + self.switch_s) / self.slot_s - 1e-9)

    def place(self, name: str, start: int, end: int) -> None:
        """Give the slots to a request: whole frames, row after row, as many as the block holds."""
        request, left = self.requests[name], self.frames_left[name]
        seconds, taken = (end - start) * self.slot_s - self.switch_s, []
        for index, row in enumerate(request.rows):
            per_frame = row.exposure_s + request.overhead_s
            fits = min(left[index], int(seconds // per_frame))
            if fits > 0:
                taken.append((index, fits))
                left[index] -= fits
                seconds -= fits * per_frame
        self.left[name] = sum(n * (row.exposure_s + request.overhead_s) for n, row in zip(left, request.rows))
        self.taken[start:end] = True
        before = next((b for b in self.blocks if b.name == name and b.slots[-1] == start - 1), None)
        if before is not None and not self.switch_s:  # the same target goes on: one block
            start = before.slots[0]
            self.blocks.remove(before)
            counts = dict(before.rows)
            for index, n in taken:
                counts[index] = counts.get(index, 0) + n
            taken = sorted(counts.items())
        self.blocks.append(Block(name, self.sky.times[start], self.sky.times[end - 1] + self.sky.step,
                                 list(range(start, end)), float(np.mean(self.airmass[name][start:end])), taken))

    def shortest(self, name: str) -> int:
        """The shortest block worth placing: the minimum, or what finishes the request, and at least a frame."""
        request = self.requests[name]
        frame = min(row.exposure_s + request.overhead_s
                    for row, n in zip(request.rows, self.frames_left[name]) if n > 0)
        return max(min(self.min_len, self.slots_for(self.left[name])), self.slots_for(frame))

    def fill(self, name: str, score: np.ndarray) -> None:
        while self.left[name] > 0:
            runs = _runs(self.ok[name] & ~self.taken)
            window = _best_window(runs, score, self.slots_for(self.left[name]))
            if window is None:  # split: the best long enough run, whole
                runs = [(s, e) for s, e in runs if e - s >= self.shortest(name)]
                if not runs:
                    return
                window = max(runs, key=lambda run: (score[run[0]:run[1]].sum(), -run[0]))
            self.place(name, *window)


def plan_night(sky: NightSky, requests: list[PlanRequest], min_block_min: float = 30.0,
               switch_s: float = 0.0, conditions: SkyConditions | None = None) -> NightPlan:
    """The night's blocks for ``requests``; ``conditions`` (re-planning during the night) start the
    plan at a given instant and keep targets out of the clouded parts of the sky."""
    state = _State(sky, requests, min_block_min, switch_s, conditions)
    unplaced = {}
    for r in requests:
        if not state.ok[r.name].any():
            unplaced[r.name] = "never observable tonight under its constraints"
    candidates = [r for r in requests if r.name not in unplaced]
    for priority in sorted({r.priority for r in candidates}):
        group = [r for r in candidates if r.priority == priority]
        need = {r.name: state.slots_for(r.duration_s) for r in group}

        def share(r: PlanRequest) -> np.ndarray:
            allowed = state.ok[r.name] & ~state.taken
            return allowed * min(1.0, need[r.name] / max(int(allowed.sum()), 1))

        free_allowed = {r.name: int((state.ok[r.name] & ~state.taken).sum()) for r in group}
        order = sorted(group, key=lambda r: (need[r.name] > free_allowed[r.name],
                                             free_allowed[r.name] / max(need[r.name], 1),
                                             -r.done_fraction, r.name))
        shares = {r.name: share(r) for r in order}
        demand = sum(shares.values(), np.zeros(len(sky.times)))
        for r in order:
            demand = demand - shares[r.name]
            state.fill(r.name, state.score[r.name] - demand)
        # Gaps go to this priority and the ones above before any lower one is planned.
        _fill_gaps(state, [r for r in candidates if r.priority <= priority])
    for r in candidates:
        placed = any(b.name == r.name for b in state.blocks)
        if not placed:
            unplaced[r.name] = "no free time left when its constraints allow it"
        elif state.left[r.name] > 0:
            unplaced[r.name] = f"{state.left[r.name] / 60:.0f} of {r.duration_s / 60:.0f} min not placed"
    state.blocks.sort(key=lambda b: b.start)
    return NightPlan(state.blocks, unplaced, state.slot_s, switch_s)


def _fill_gaps(state: _State, requests: list[PlanRequest]) -> None:
    """Free runs, earliest first, go to the best unfinished request that can use them from their start:
    the best priority, then the target already there (no switch), then the longest use of the run."""
    order = sorted(requests, key=lambda r: (r.priority, r.name))
    changed = True
    while changed:
        changed = False
        for start, end in _runs(~state.taken):
            best = None
            for r in order:
                if state.left[r.name] <= 0 or not state.ok[r.name][start]:
                    continue
                allowed = state.ok[r.name][start:end]
                length = int(np.argmin(allowed)) if not allowed.all() else end - start
                length = min(length, state.slots_for(state.left[r.name]))
                if length < state.shortest(r.name):
                    continue
                stays = any(b.name == r.name and b.slots[-1] == start - 1 for b in state.blocks)
                key = (r.priority, not stays, -length, -float(state.score[r.name][start:start + length].mean()))
                if best is None or key < best[0]:
                    best = (key, r.name, length)
            if best is not None:
                state.place(best[1], start, start + best[2])
                changed = True
                break


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
        ok, _score, airmass_ = info[choice.name]
        start = i
        while i < len(sky.times) and ok[i] and left[choice.name] > 0:
            left[choice.name] -= 1
            i += 1
        blocks.append(Block(choice.name, sky.times[start], sky.times[i - 1] + sky.step,
                            list(range(start, i)), float(np.mean(airmass_[start:i]))))
    unplaced = {name: f"{n} slots not placed" for name, n in left.items() if n > 0}
    return NightPlan(blocks, unplaced, slot_s)


def to_schedule_job(plan: NightPlan, requests: list[PlanRequest], job_id: str, node: str):
    from .schedule_job import schedule_job

    return schedule_job(plan, requests, job_id, node)
