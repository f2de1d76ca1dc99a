"""Combine a stack of frames pixel by pixel, with sigma clipping, in bounded memory.

Frames are written one at a time into a disk-backed cube (``FrameCube``: one ``np.memmap`` file of
N x H x W float32) and combined in bands of rows. A band holds every frame's rows r0..r1, so its
height is chosen from a byte budget: with more frames the bands get thinner and the memory used
stays the same, whatever the number of frames.

Rejection follows ccdproc's ``Combiner.sigma_clipping`` (astropy ``sigma_clip`` along the frame
axis, one pass by default): centre and spread per pixel from the values present, values outside
centre - low x spread .. centre + high x spread rejected. Missing values (NaN, e.g. outside a
registered frame's footprint) are neither used nor counted as rejected. Arithmetic is float64 (as
ccdproc's), results are float32. The per-pixel work is ``clip_kernel.clip_combine_rows`` (numba),
which reads the memory map in place; the rows of a band are shared between the cores.
"""
from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .clip_kernel import clip_combine_rows

__all__ = ["CombineResult", "FrameCube", "band_rows", "combine_arrays", "combine_cube", "DEFAULT_MEMORY_BUDGET"]

#: bytes a band of rows may use while it is combined (all frames' rows and the work arrays)
DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024
_WORK_COPIES = 4   # sizes the bands as if a band of every frame were held in float64 four times
METHODS = ("mean", "median")


@dataclass
class CombineResult:
    data: np.ndarray        # float32 (H, W); NaN where no value survived
    rejected: np.ndarray    # uint16 (H, W): values rejected by clipping at each pixel
    coverage: np.ndarray    # uint16 (H, W): values used at each pixel
    n_frames: int


class FrameCube:
    """N frames of one shape in a temporary memory-mapped file; write by index, read by rows.

    Use as a context manager (or call ``close``): the file is deleted on close.
    """

    def __init__(self, n_frames: int, shape: tuple[int, int], workdir: str | os.PathLike | None = None):
        if n_frames < 1:
            raise ValueError("a cube needs at least one frame")
        self.n_frames = int(n_frames)
        self.shape = (int(shape[0]), int(shape[1]))
        self._dir = Path(tempfile.mkdtemp(prefix="obsy-cube-", dir=workdir))
        self.array = np.memmap(self._dir / "cube.f32", dtype=np.float32, mode="w+",
                               shape=(self.n_frames,) + self.shape)

    def __setitem__(self, index: int, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.shape != self.shape:
            raise ValueError(f"frame of shape {frame.shape} does not fit a cube of {self.shape}")
        self.array[index] = frame
        self.release()

    def release(self) -> None:
        """Unmap the pages just touched: the data stay in the file (page cache), not in this process.

        Without this, every page written or read counts in the process's resident memory until the
        cube is closed, which would look like (though it is not) memory growing with the frames.
        """
        mm = getattr(self.array, "_mmap", None)
        if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        mm = getattr(self.array, "_mmap", None)
        if mm is not None:
            mm.close()
        self.array = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "FrameCube":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def band_rows(n_frames: int, width: int, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Rows per band so that one band of every frame and its work arrays fit the budget."""
    per_row = max(1, n_frames) * width * 8 * _WORK_COPIES
    return max(1, int(memory_budget // per_row))


def combine_cube(cube: FrameCube, *, method: str = "mean", sigma: float | None = 3.0,
                 sigma_low: float | None = None, sigma_high: float | None = None, iterations: int = 1,
                 weights: Sequence[float] | None = None, frames: Sequence[int] | None = None,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET,
                 progress: Callable[[int], None] | None = None) -> CombineResult:
    """Combine the frames of ``cube`` (or the subset ``frames``) band by band.

    ``sigma`` sets both thresholds (``sigma_low``/``sigma_high`` override one side; ``None`` disables
    clipping); centre is the median, spread the MAD scaled to a standard deviation. ``weights`` apply
    to the mean only. ``progress`` is called with the number of rows done after each band.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    index = list(range(cube.n_frames)) if frames is None else list(frames)
    if not index:
        raise ValueError("nothing to combine")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(index),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be one finite, non-negative number per frame, not all zero")
    low = sigma if sigma_low is None else sigma_low
    high = sigma if sigma_high is None else sigma_high
    h, width = cube.shape
    data = np.empty((h, width), dtype=np.float32)
    rejected = np.zeros((h, width), dtype=np.uint16)
    coverage = np.zeros((h, width), dtype=np.uint16)
    frame_index = np.asarray(index, dtype=np.int64)
    options = (float(abs(low)) if low is not None else 0.0, float(abs(high)) if high is not None else 0.0,
               low is not None, high is not None, int(iterations),
               w if w is not None else np.ones(len(index)), w is not None, method == "median")
    frames_array = np.asarray(cube.array)   # a plain view of the memory map: the kernel reads it in place
    step = band_rows(len(index), width, memory_budget)
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for r0 in range(0, h, step):
            r1 = min(h, r0 + step)
            parts = _split(r0, r1, _threads())
            jobs = [pool.submit(clip_combine_rows, frames_array, frame_index, a, b, *options,
                                data[a:b], rejected[a:b], coverage[a:b]) for a, b in parts]
            for job in jobs:
                job.result()
            cube.release()
            if progress is not None:
                progress(r1 - r0)
    return CombineResult(data, rejected, coverage, len(index))


def _threads() -> int:
    """Threads sharing a band: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _split(r0: int, r1: int, parts: int) -> list[tuple[int, int]]:
    """Rows r0..r1 cut into at most ``parts`` runs of nearly equal length."""
    parts = max(1, min(parts, r1 - r0))
    edges = [r0 + (r1 - r0) * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def combine_arrays(frames: Sequence[np.ndarray], *, workdir=None, **options) -> CombineResult:
    """Convenience for frames already in memory: write them to a cube and combine."""
    with FrameCube(len(frames), np.shape(frames[0]), workdir) as cube:
        for i, frame in enumerate(frames):
            cube[i] = frame
        return combine_cube(cube, **options)
