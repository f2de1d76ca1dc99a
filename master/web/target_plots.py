"""The target page's three plots as SVG geometry: tonight's altitude (with airmass, twilight, moon and
transit), the year's best months, and the framing of the target in a camera's field of view.

Only numbers and class names are produced here; templates/targets/_plots.html
draws them and obsy.css colours them (the CSP allows no inline styles).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from master.planning.sky import TargetTrack
from master.target_sky import MonthSky, TargetTonight
from .timeline import darkness

WIDTH, TOP, CHART_H = 1000, 22, 200  # tonight: a strip for moon separations on top, altitude 0..90° below
LEFT, RIGHT = 44, 956  # room for the altitude (left) and airmass (right) labels
AIRMASS_TICKS = (1.0, 1.2, 1.5, 2.0, 3.0)
PAD = timedelta(hours=1)


def _airmass_alt(airmass: float) -> float:
    """The altitude where the planner's airmass formula gives ``airmass`` (found on a fine grid)."""
    alts = np.linspace(0.0, 90.0, 9001)
    values = TargetTrack(alt=alts, az=alts, moon_separation=alts, above_horizon=alts > 0).airmass
    return float(np.interp(airmass, values[::-1], alts[::-1]))


@dataclass
class TonightPlot:
    bands: list[tuple[float, float, str]] = field(default_factory=list)  # x, width, darkness
    curve: str = ""  # target altitude, SVG points
    moon: str = ""
    horizon: str = ""  # the horizon mask along the target's azimuth, as a closed polygon
    transit_x: float | None = None
    transit_label: str = ""
    separations: list[tuple[float, str]] = field(default_factory=list)  # x, "38°"
    ticks: list[tuple[float, str]] = field(default_factory=list)
    alt_ticks: list[tuple[float, str]] = field(default_factory=list)  # y, label
    airmass_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    top: int = TOP
    bottom: int = TOP + CHART_H
    left: int = LEFT
    right: int = RIGHT
    height: int = TOP + CHART_H + 20


def alt_y(alt) -> np.ndarray:
    return TOP + CHART_H * (1 - np.clip(alt, 0.0, 90.0) / 90.0)


def _points(xs: np.ndarray, values: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, alt_y(values)))


def tonight_window(sun_alt: np.ndarray, step: timedelta) -> tuple[int, int]:
    """Grid slots shown: an hour before sunset to an hour after sunrise (the whole grid without a night)."""
    below = np.flatnonzero(sun_alt < 0)
    if below.size == 0:
        return 0, len(sun_alt)
    pad = int(PAD / step)
    return max(0, int(below[0]) - pad), min(len(sun_alt), int(below[-1]) + 1 + pad)


def tonight_plot(tonight: TargetTonight, zone: ZoneInfo) -> TonightPlot:
    sky, track = tonight.sky, tonight.track
    first, last = tonight_window(sky.sun_alt, sky.step)
    begin = sky.times[first]
    span = (sky.times[last - 1] + sky.step - begin).total_seconds()

    def x_of(when: datetime) -> float:
        return round(LEFT + (when - begin).total_seconds() / span * (RIGHT - LEFT), 1)

    plot = TonightPlot()
    xs = np.array([x_of(t) for t in sky.times[first:last]])
    edges = [x_of(t) for t in sky.times[first:last]] + [float(RIGHT)]
    levels = [darkness(a) for a in sky.sun_alt[first:last]]
    start = 0
    for i in range(1, len(levels) + 1):
        if i == len(levels) or levels[i] != levels[start]:
            plot.bands.append((edges[start], round(edges[i] - edges[start], 1), levels[start]))
            start = i
    plot.curve = _points(xs, track.alt[first:last])
    plot.moon = _points(xs, sky.moon_alt[first:last])
    mask = sky.site.horizon_alt(track.az[first:last])
    if np.any(mask > 0):
        plot.horizon = f"{xs[0]:.1f},{plot.bottom} " + _points(xs, mask) + f" {xs[-1]:.1f},{plot.bottom}"
    if tonight.transit is not None and begin <= tonight.transit <= sky.times[last - 1]:
        plot.transit_x = x_of(tonight.transit)
        plot.transit_label = f"transit {tonight.transit.astimezone(zone):%H:%M}"
    end = sky.times[last - 1] + sky.step
    hour = begin.astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour < end:  # local hours; stepping in UTC keeps nights that change the clock right
        plot.ticks.append((x_of(hour), f"{hour:%H}h"))
        if hour.hour % 2 == 0:
            slot = min(last - 1, first + int((hour - begin) / sky.step))
            plot.separations.append((x_of(hour), f"{track.moon_separation[slot]:.0f}°"))
        hour = (hour.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
    plot.alt_ticks = [(round(float(alt_y(a)), 1), f"{a}°") for a in (0, 30, 60, 90)]
    plot.airmass_ticks = [(round(float(alt_y(_airmass_alt(m))), 1), f"{m:g}") for m in AIRMASS_TICKS]
    return plot


def dark_hours_above(tonight: TargetTonight, min_alt: float = 30.0, twilight: str = "astronomical") -> float:
    usable = tonight.sky.dark(twilight) & (tonight.track.alt >= min_alt) & tonight.track.above_horizon
    return float(usable.sum() * tonight.sky.step.total_seconds() / 3600.0)


MONTHS_W, MONTHS_TOP, MONTHS_H = 1000, 12, 150
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class MonthBar:
    x: float
    width: float
    y: float  # top of the bar (dark hours)
    height: float
    dot_y: float  # altitude at midnight
    label: str
    title: str
    best: bool
    current: bool


@dataclass
class MonthsPlot:
    bars: list[MonthBar]
    line: str  # the midnight altitudes joined
    hour_ticks: list[tuple[float, str]]
    alt_ticks: list[tuple[float, str]]
    width: int = MONTHS_W
    top: int = MONTHS_TOP
    bottom: int = MONTHS_TOP + MONTHS_H
    left: int = LEFT
    right: int = RIGHT
    height: int = MONTHS_TOP + MONTHS_H + 20


def months_plot(months: tuple[MonthSky, ...], current_month: int, min_alt: float = 30.0) -> MonthsPlot:
    bottom = MONTHS_TOP + MONTHS_H
    top_hours = max(12.0, max(m.dark_hours for m in months))
    slot = (RIGHT - LEFT) / 12

    def hours_y(hours: float) -> float:
        return round(bottom - MONTHS_H * hours / top_hours, 1)

    def alt_y_months(alt: float) -> float:
        return round(bottom - MONTHS_H * min(max(alt, 0.0), 90.0) / 90.0, 1)

    bars = []
    for m in months:
        x = round(LEFT + (m.month - 1) * slot + slot * 0.15, 1)
        y = hours_y(m.dark_hours)
        bars.append(MonthBar(x, round(slot * 0.7, 1), y, round(bottom - y, 1), alt_y_months(m.midnight_alt),
                             MONTH_NAMES[m.month - 1],
                             f"{MONTH_NAMES[m.month - 1]}: {m.dark_hours:.1f} h dark above {min_alt:g}°, "
                             f"{m.midnight_alt:.0f}° at midnight", m.best, m.month == current_month))
    line = " ".join(f"{b.x + b.width / 2:.1f},{b.dot_y:.1f}" for b in bars)
    hour_ticks = [(hours_y(h), f"{h}h") for h in range(0, int(top_hours) + 1, 4)]
    alt_ticks = [(alt_y_months(a), f"{a}°") for a in (0, 30, 60, 90)]
    return MonthsPlot(bars, line, hour_ticks, alt_ticks)


FRAME_W, FRAME_H = 480, 320


@dataclass
class FramingPlot:
    fov: tuple[float, float]  # arcmin
    rect: tuple[float, float, float, float]  # x, y, width, height in the viewBox
    ellipse: tuple[float, float, float, float] | None  # cx, cy, rx, ry
    rotation: float  # degrees, SVG sense, about the centre
    verdict: str
    panels: tuple[int, int] | None  # mosaic columns × rows when the target does not fit
    width: int = FRAME_W
    height: int = FRAME_H


def mosaic(size: tuple[float, float], fov: tuple[float, float], overlap: float = 0.1) -> tuple[int, int]:
    """Panels (columns × rows) covering a target's bounding box, camera turned whichever way needs fewer."""
    def panels(fw: float, fh: float) -> tuple[int, int]:
        return (max(1, math.ceil(size[0] / (fw * (1 - overlap)) - 1e-9)),
                max(1, math.ceil(size[1] / (fh * (1 - overlap)) - 1e-9)))

    straight, turned = panels(*fov), panels(fov[1], fov[0])
    return min(straight, turned, key=lambda p: p[0] * p[1])  # the straight camera on a tie


def framing_plot(fov: tuple[float, float], major: float | None, minor: float | None,
                 position_angle: float | None = None) -> FramingPlot:
    """North up, east left; the camera's long side east–west. Without a PA the major axis is drawn east–west."""
    fw, fh = fov
    size = (major, minor or major) if major else None
    extent_w = max(fw, size[0] if size else 0) * 1.2
    extent_h = max(fh, size[0] if size else 0) * 1.2
    scale = min(FRAME_W / extent_w, FRAME_H / extent_h)
    cx, cy = FRAME_W / 2, FRAME_H / 2
    rect = (round(cx - fw * scale / 2, 1), round(cy - fh * scale / 2, 1), round(fw * scale, 1), round(fh * scale, 1))
    if size is None:
        return FramingPlot(fov, rect, None, 0.0, "The target's size is not known: only the field is drawn.", None)
    ellipse = (cx, cy, round(size[0] * scale / 2, 1), round(size[1] * scale / 2, 1))
    rotation = 0.0 if position_angle is None else (90.0 - position_angle) % 180.0
    # The ellipse's extent east–west and north–south at its PA (major axis east–west without one).
    pa = math.radians(90.0 if position_angle is None else position_angle)
    across = (math.hypot(size[0] * math.sin(pa), size[1] * math.cos(pa)),
              math.hypot(size[0] * math.cos(pa), size[1] * math.sin(pa)))
    panels = None
    if across[0] <= fw and across[1] <= fh:
        verdict = f"Fits: the target spans {across[0] / fw:.0%} of the field's width."
    elif across[0] <= fh and across[1] <= fw:
        verdict = f"Fits with the camera turned 90°: the target spans {across[1] / fw:.0%} of the field's long side."
    else:
        panels = mosaic(across, fov)
        verdict = (f"Larger than the field ({size[0]:.0f}′ × {size[1]:.0f}′ in {fw:.0f}′ × {fh:.0f}′): "
                   f"a mosaic of {panels[0]} × {panels[1]} panels covers it.")
    if position_angle is None:
        verdict += " Position angle unknown: drawn east–west."
    return FramingPlot(fov, rect, ellipse, rotation, verdict, panels)
