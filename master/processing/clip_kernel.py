"""The per-pixel sigma-clipped combine, compiled with numba.

numpy can only clip a stack of frames by sorting along the frame axis, which it does one pixel at a
time through a strided buffer, twice per pass (median and MAD), on float64 copies of the band. Here
each pixel's values are gathered once into a small float64 scratch array, the median and the MAD
are found by selection (insertion sort for a few values, quickselect above), and the clipped values
are combined where they lie: no copy of the band, nothing allocated per pixel, and the GIL released
so that two threads can share the rows of a band.

The rules are those of astropy's ``sigma_clip`` as ccdproc's ``Combiner`` uses it (centre the
median, spread the MAD scaled to a standard deviation, a value is rejected when it lies strictly
beyond centre - low x spread or centre + high x spread, passes until nothing more is rejected); NaN
values are missing, neither used nor counted as rejected. ``tests/unit/test_processing_masters.py``
keeps ccdproc's results as the oracle.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["clip_combine_rows"]

MAD_TO_SIGMA = 1.482602218505602   # the factor astropy's mad_std uses
_SMALL = 24                        # up to this many values an insertion sort beats quickselect


@njit(nogil=True, cache=True)
def _select(work, m, k):
    """Reorder work[:m] so that work[k] is its k-th smallest value and work[:k] holds the smaller ones."""
    if m <= _SMALL:
        for i in range(1, m):
            v = work[i]
            j = i - 1
            while j >= 0 and work[j] > v:
                work[j + 1] = work[j]
                j -= 1
            work[j + 1] = v
        return work[k]
    lo, hi = 0, m - 1
    while hi > lo:
        mid = (lo + hi) // 2    # median of three as the pivot: sorted runs stay fast
        if work[mid] < work[lo]:
            work[mid], work[lo] = work[lo], work[mid]
        if work[hi] < work[lo]:
            work[hi], work[lo] = work[lo], work[hi]
        if work[hi] < work[mid]:
            work[hi], work[mid] = work[mid], work[hi]
        pivot = work[mid]
        i, j = lo, hi
        while i <= j:
            while work[i] < pivot:
                i += 1
            while work[j] > pivot:
                j -= 1
            if i <= j:
                work[i], work[j] = work[j], work[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return work[k]


@njit(nogil=True, cache=True)
def _median(work, m):
    """Median of work[:m] (the mean of the two middle values when m is even); work is reordered."""
    half = m // 2
    upper = _select(work, m, half)
    if m % 2:
        return upper
    lower = work[0]
    for i in range(1, half):
        if work[i] > lower:
            lower = work[i]
    return 0.5 * (lower + upper)


@njit(nogil=True, cache=True)
def clip_combine_rows(cube, frames, r0, r1, low, high, clip_low, clip_high, iterations, weights, weighted,
                      median, out, rejected, coverage):
    """Combine rows r0..r1 of ``cube[frames]`` (float32, NaN missing) into out/rejected/coverage[0:r1-r0].

    ``low``/``high`` apply when ``clip_low``/``clip_high``; ``weights`` (one per entry of ``frames``)
    when ``weighted`` (mean only); ``median`` combines by the median instead of the mean.
    """
    n = frames.shape[0]
    width = cube.shape[2]
    vals = np.empty(n, np.float64)
    work = np.empty(n, np.float64)
    owner = np.empty(n, np.int64)
    clip = clip_low or clip_high
    for r in range(r0, r1):
        for c in range(width):
            m = 0
            for k in range(n):
                v = cube[frames[k], r, c]
                if not np.isnan(v):
                    vals[m] = v
                    owner[m] = k
                    m += 1
            dropped = 0
            if clip:
                for _ in range(max(1, iterations)):
                    if m == 0:
                        break
                    for j in range(m):
                        work[j] = vals[j]
                    center = _median(work, m)
                    for j in range(m):
                        work[j] = abs(vals[j] - center)
                    spread = MAD_TO_SIGMA * _median(work, m)
                    kept = 0
                    for j in range(m):
                        d = vals[j] - center
                        if (clip_low and d < -low * spread) or (clip_high and d > high * spread):
                            continue
                        vals[kept] = vals[j]
                        owner[kept] = owner[j]
                        kept += 1
                    if kept == m:
                        break
                    dropped += m - kept
                    m = kept
            row = r - r0
            rejected[row, c] = dropped
            coverage[row, c] = m
            if m == 0:
                out[row, c] = np.nan
            elif median:
                for j in range(m):
                    work[j] = vals[j]
                out[row, c] = _median(work, m)
            elif weighted:
                total = 0.0
                norm = 0.0
                for j in range(m):
                    total += weights[owner[j]] * vals[j]
                    norm += weights[owner[j]]
                out[row, c] = total / norm if norm > 0 else np.nan
            else:
                total = 0.0
                for j in range(m):
                    total += vals[j]
                out[row, c] = total / m
