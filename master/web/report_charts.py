"""Report charts as SVG geometry (numbers and class names; the templates draw, the stylesheet colours).

Two kinds: integration hours per night stacked by filter, and a quality value (HFR, stars,
background) against time with accepted frames filled and rejected ones open.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from master.reports.aggregate import TargetReport, TrendPoint
from .lightcurve_plot import _range, _ticks

WIDTH, HEIGHT = 800.0, 260.0
LEFT, RIGHT, TOP, BOTTOM = 60.0, 15.0, 15.0, 45.0
COLOURS = 6  # c0 … c5 in obsy.css, shared with tonight's timeline
MAX_X_LABELS = 12
SESSION_GAP_S = 6 * 3600  # a longer pause between frames starts a new line: nights are not joined


@dataclass
class ChartBox:
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: int
    label: str


@dataclass
class BarChart(ChartBox):
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Dot:
    x: float
    y: float
    accepted: bool
    label: str


@dataclass
class TrendChart(ChartBox):
    name: str = ""
    label: str = ""
    dots: list[Dot] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # accepted frames joined in time order, one line per session
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def integration_chart(report: TargetReport) -> BarChart | None:
    """Accepted hours per night, one segment per filter; None when nothing was accepted."""
    if not report.nights or report.total.accepted_s <= 0:
        return None
    chart = BarChart()
    colour = {name: i % COLOURS for i, name in enumerate(report.filters)}
    chart.legend = [(name, colour[name]) for name in report.filters]
    totals = [sum(report.by_night_filter[(n, f)].accepted_s for f in report.filters
                  if (n, f) in report.by_night_filter) / 3600 for n in report.nights]
    top = max(totals) * 1.08
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top
    slot = plot_w / len(report.nights)
    bar_w = max(2.0, slot * 0.7)
    step = max(1, -(-len(report.nights) // MAX_X_LABELS))
    for i, night in enumerate(report.nights):
        x = chart.left + i * slot + (slot - bar_w) / 2
        base = chart.bottom
        for name in report.filters:
            tally = report.by_night_filter.get((night, name))
            if tally is None or tally.accepted_s <= 0:
                continue
            h = tally.accepted_s / 3600 / top * plot_h
            base -= h
            chart.bars.append(Bar(round(x, 1), round(base, 1), round(bar_w, 1), round(h, 1), colour[name],
                                  f"{night} {name}: {tally.accepted_s / 3600:.2f} h ({tally.accepted} frames)"))
        if i % step == 0:
            chart.x_labels.append((round(x + bar_w / 2, 1), night.strftime("%m-%d")))
    chart.y_ticks = [(round(chart.bottom - t / top * plot_h, 1), _tick_label(t)) for t in _ticks(0.0, top)]
    return chart


def trend_chart(name: str, label: str, points: list[TrendPoint]) -> TrendChart | None:
    """``points`` in time order; None without any."""
    if not points:
        return None
    chart = TrendChart(name=name, label=label)
    t0 = points[0].when
    xs = [(p.when - t0).total_seconds() for p in points]
    x_lo, x_hi = (xs[0] - 1, xs[-1] + 1) if xs[-1] == xs[0] else _range(xs)
    y_lo, y_hi = _range([p.value for p in points])
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top

    def sx(x: float) -> float:
        return round(chart.left + (x - x_lo) / (x_hi - x_lo) * plot_w, 1)

    def sy(y: float) -> float:
        return round(chart.bottom - (y - y_lo) / (y_hi - y_lo) * plot_h, 1)

    for x, p in zip(xs, points):
        chart.dots.append(Dot(sx(x), sy(p.value), p.accepted,
                              f"{p.when:%Y-%m-%d %H:%M} UTC: {p.value:g}{'' if p.accepted else ' (rejected)'}"))
    line: list[str] = []
    previous = None
    for x, dot in zip(xs, chart.dots):
        if previous is not None and x - previous > SESSION_GAP_S and line:
            chart.lines.append(" ".join(line))
            line = []
        previous = x
        if dot.accepted:
            line.append(f"{dot.x},{dot.y}")
    if line:
        chart.lines.append(" ".join(line))
    chart.y_ticks = [(sy(t), _tick_label(t)) for t in _ticks(y_lo, y_hi)]
    span_days = (x_hi - x_lo) / 86400
    fmt = "%H:%M" if span_days < 0.5 else ("%m-%d %H:%M" if span_days < 3 else "%m-%d")
    chart.x_ticks = [(sx(t), _at(t0, t).strftime(fmt)) for t in _ticks(x_lo, x_hi, 6)]
    return chart


def _at(t0: datetime, seconds: float) -> datetime:
    return t0 + timedelta(seconds=seconds)
