"""Keep the steady comparison stars of an automatic ensemble: a variable one is dropped.

An automatic ensemble is picked on one frame by brightness and isolation, so it can hold a variable
star, which then puts its own light curve into the target's. After every frame is measured, each
comparison's magnitude is compared with the mean of the others, frame by frame: a steady star gives
a flat series whose scatter its photometric errors explain. The star with the largest robust
scatter is dropped while that scatter is both several times the others' typical scatter and more
than its errors explain; at least ``min_keep`` stars stay (with two, which one varies cannot be
told apart).
"""
from __future__ import annotations

import numpy as np

from .photometry import FrameMeasurement, Star

__all__ = ["steady_comparisons"]

MAX_SCATTER_RATIO = 3.0  # of the star's scatter to the median of the others'
MAX_ERROR_RATIO = 2.0  # of the star's scatter to what its photometric errors predict
MIN_FRAMES = 5


def _robust_scatter(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _table(frames: list[FrameMeasurement], comps: list[Star]) -> tuple[np.ndarray, np.ndarray]:
    """(magnitudes, errors), frames × comps, NaN where a star is missing or flagged."""
    mags = np.full((len(frames), len(comps)), np.nan)
    errs = np.full_like(mags, np.nan)
    for i, frame in enumerate(frames):
        for j, comp in enumerate(comps):
            m = frame.stars.get(comp.name)
            if m is not None and not m.flags and np.isfinite(m.mag):
                mags[i, j], errs[i, j] = m.mag, m.mag_err
    return mags, errs


def steady_comparisons(frames: list[FrameMeasurement], comps: list[Star],
                       min_keep: int = 2) -> tuple[list[Star], list[dict]]:
    """(comparisons kept, [{name, ra, dec, scatter_mag, expected_mag}] of those dropped)."""
    mags, errs = _table(frames, comps)
    keep = list(range(len(comps)))
    dropped: list[dict] = []
    while len(keep) > max(min_keep, 2):
        complete = np.all(np.isfinite(mags[:, keep]), axis=1)
        if complete.sum() < MIN_FRAMES:
            break
        table, table_err = mags[complete][:, keep], errs[complete][:, keep]
        scatter, expected = [], []
        for k in range(len(keep)):
            others = np.delete(table, k, axis=1).mean(axis=1)
            scatter.append(_robust_scatter(table[:, k] - others))
            expected.append(float(np.median(table_err[:, k])))
        worst = int(np.argmax(scatter))
        typical = float(np.median(np.delete(scatter, worst)))
        if scatter[worst] <= MAX_SCATTER_RATIO * max(typical, 1e-4) or scatter[worst] <= MAX_ERROR_RATIO * expected[worst]:
            break
        star = comps[keep[worst]]
        dropped.append({"name": star.name, "ra": star.ra, "dec": star.dec, "x": star.x, "y": star.y,
                        "scatter_mag": round(scatter[worst], 4), "expected_mag": round(expected[worst], 4)})
        del keep[worst]
    return [comps[j] for j in keep], dropped
