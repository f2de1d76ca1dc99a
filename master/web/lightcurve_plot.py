"""A light curve as SVG geometry: points, error bars and ticks in a fixed viewBox (no JavaScript)."""
from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH, HEIGHT = 800.0, 360.0
LEFT, RIGHT, TOP, BOTTOM = 70.0, 20.0, 20.0, 50.0


@dataclass
class PlotPoint:
    x: float
    y: float
    y_low: float  # error bar ends (SVG y)
    y_high: float
    good: bool
    label: str


@dataclass
class Plot:
    points: list[PlotPoint]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    x_label: str
    y_label: str
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    line: str = ""  # SVG polyline points of a model drawn over the points


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 0.01
    return lo - pad, hi + pad


def lightcurve_plot(rows: list[dict], y_key: str = "mag", err_key: str = "mag_err") -> Plot | None:
    """Magnitudes (brighter up) against BJD_TDB, from ``parse_lightcurve_csv`` rows; None without points."""
    rows = [r for r in rows if r.get("bjd_tdb") is not None and r.get(y_key) is not None]
    if not rows:
        return None
    return series_plot([r["bjd_tdb"] for r in rows], [r[y_key] for r in rows],
                       [r.get(err_key) or 0.0 for r in rows], [bool(r.get("good", True)) for r in rows],
                       "magnitude" if y_key == "mag" else y_key, magnitudes=y_key == "mag")


def series_plot(times: list[float], ys: list[float], errs: list[float], goods: list[bool], y_label: str,
                magnitudes: bool = False, line: tuple[list[float], list[float]] | None = None) -> Plot:
    """Points with error bars against BJD_TDB, and ``line`` (times, values) as a polyline when given."""
    day = math.floor(min(times))
    xs = [t - day for t in times]
    x_lo, x_hi = _range(xs)
    y_lo, y_hi = _range([y - e for y, e in zip(ys, errs)] + [y + e for y, e in zip(ys, errs)])

    def sx(x: float) -> float:
        return LEFT + (x - x_lo) / (x_hi - x_lo) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        t = (y - y_lo) / (y_hi - y_lo)
        return TOP + (t if magnitudes else 1 - t) * (HEIGHT - TOP - BOTTOM)  # magnitudes: bright is up

    points = [PlotPoint(sx(x), sy(y), sy(y - e), sy(y + e), good,
                        f"BJD {x + day:.5f}: {y:.4f} ± {e:.4f}{'' if good else ' (flagged)'}")
              for x, y, e, good in zip(xs, ys, errs, goods)]
    plot = Plot(points, [(sx(t), f"{t:.3f}") for t in _ticks(x_lo, x_hi)],
                [(sy(t), f"{t:.3f}") for t in _ticks(y_lo, y_hi)], f"BJD_TDB − {day}", y_label)
    if line is not None:
        plot.line = " ".join(f"{sx(t - day):.1f},{sy(min(max(v, y_lo), y_hi)):.1f}" for t, v in zip(*line))
    return plot
