"""Tonight's timeline as SVG geometry: twilight bands, planned blocks, what ran, unsafe periods,
altitude curves, the moon.

Only numbers and class names are produced here; the template draws them, and
the colours live in the stylesheet (the CSP allows no inline styles).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

WIDTH = 1000
LANE_H = 34  # the row of planned blocks on top
RAN_TOP = LANE_H + 4
RAN_H = 16  # the row of frames taken, under the planned one
CHART_TOP = RAN_TOP + RAN_H + 8
CHART_H = 180  # altitude 90° at the top, 0° at the bottom
HEIGHT = CHART_TOP + CHART_H + 18  # room for hour labels
PAD = timedelta(hours=1)
COLOURS = 6  # classes c0 … c5 in obsy.css


def darkness(sun_alt: float) -> str:
    if sun_alt >= 0:
        return "day"
    if sun_alt >= -6:
        return "civil"
    if sun_alt >= -12:
        return "nautical"
    return "astronomical" if sun_alt >= -18 else "night"


@dataclass
class Timeline:
    bands: list[tuple[float, float, str]] = field(default_factory=list)  # x, width, darkness
    blocks: list[tuple[float, float, str, str, int]] = field(default_factory=list)  # x, width, target, times, colour
    curves: list[tuple[str, str, int]] = field(default_factory=list)  # target, SVG points, colour
    ran: list[tuple[float, float, str, str, int]] = field(default_factory=list)  # x, width, target, accepted|rejected, colour
    unsafe: list[tuple[float, float, str]] = field(default_factory=list)  # x, width, why
    moon: str = ""
    ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    lane_h: int = LANE_H
    ran_top: int = RAN_TOP
    ran_h: int = RAN_H
    chart_top: int = CHART_TOP
    chart_bottom: int = CHART_TOP + CHART_H


def _window(sky) -> tuple[int, int]:
    """Slot range shown: sunset less an hour to sunrise plus an hour (the whole grid if the sun never sets)."""
    below = np.flatnonzero(sky.sun_alt < 0)
    if below.size == 0:
        return 0, len(sky.times)
    pad = int(PAD / sky.step)
    return max(0, int(below[0]) - pad), min(len(sky.times), int(below[-1]) + 1 + pad)


def _points(values: np.ndarray, xs: np.ndarray) -> str:
    ys = CHART_TOP + CHART_H * (1 - np.clip(values, 0, 90) / 90)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def build_timeline(tonight, zone: ZoneInfo, frames=(), safety=()) -> Timeline:
    """``frames``: ``RanFrame`` objects (master.night_record); ``safety``: ``Stretch`` objects (master.safety_timeline) of the night; unsafe ones are marked."""
    sky = tonight.sky
    first, last = _window(sky)
    span = max(1, last - first)

    def x(index: float) -> float:
        return round((index - first) / span * WIDTH, 1)

    def at(when: datetime) -> float:
        return x(min(max((when - sky.times[0]) / sky.step, first), last))

    line = Timeline()
    levels = [darkness(alt) for alt in sky.sun_alt[first:last]]
    start = 0
    for i in range(1, len(levels) + 1):
        if i == len(levels) or levels[i] != levels[start]:
            line.bands.append((x(first + start), x(first + i) - x(first + start), levels[start]))
            start = i
    # One colour per target, shared by its blocks (a split request has several) and its curve.
    planned = [r for r in tonight.requests if any(b.name == r.name for b in tonight.plan.blocks)]
    colour = {r.name: i % COLOURS for i, r in enumerate(planned)}
    for block in tonight.plan.blocks:
        left, right = x(block.slots[0]), x(block.slots[-1] + 1)
        times = f"{block.start.astimezone(zone):%H:%M}–{block.end.astimezone(zone):%H:%M}"
        line.blocks.append((left, right - left, block.name, times, colour[block.name]))
    for frame in frames:
        left, right = at(frame.start), at(frame.start + timedelta(seconds=frame.exposure_s or 0))
        if right > 0 and left < WIDTH:  # frames outside the chart's hours are not drawn
            line.ran.append((left, max(right - left, 1.0), frame.target,
                             "accepted" if frame.accepted else "rejected", colour.get(frame.target, COLOURS)))
    for stretch in safety:
        if stretch.state == "unsafe" and at(stretch.end) > at(stretch.start):
            line.unsafe.append((at(stretch.start), at(stretch.end) - at(stretch.start),
                                ", ".join(stretch.reasons) or "unsafe"))
    xs = np.array([x(i) for i in range(first, last)])
    for request in planned:
        track = sky.target(request.ra_deg, request.dec_deg)
        line.curves.append((request.name, _points(track.alt[first:last], xs), colour[request.name]))
    line.moon = _points(sky.moon_alt[first:last], xs)
    begin, end = sky.times[first], sky.times[last - 1] + sky.step
    hour = begin.astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour < end:  # local hours; zone-aware arithmetic keeps DST nights right
        line.ticks.append((x(first + (hour - begin) / sky.step), f"{hour:%H}h"))
        hour = (hour.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
    return line
