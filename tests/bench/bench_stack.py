"""Time and peak memory of OBSY's banded combination against ccdproc.combine (not part of the suite).

    .venv/bin/python -m tests.bench.bench_stack [--frames 20] [--size 3000x2000] [--method mean]
                                                [--budget-mb 128] [--skip-ccdproc]

Writes N aligned float32 frames (noise, stars, one satellite trail) to a temporary folder, then
combines them from those files with a 3-sigma clip (median centre, MAD spread, one pass) twice,
each in a fresh process so that peak resident memory is its own: ``stack_files(register=False)``
and ``ccdproc.combine``. Prints wall time, peak RSS above the process's baseline after imports,
the largest pixel difference, and the ratios.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_frames(directory: Path, n: int, width: int, height: int, seed: int = 1) -> list[Path]:
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    ys, xs = rng.uniform(0, height, 300), rng.uniform(0, width, 300)
    fluxes = rng.uniform(2e3, 5e4, 300)
    sky = np.full((height, width), 800.0, np.float32)
    for y, x, flux in zip(ys, xs, fluxes):   # small Gaussian stars, drawn on stamps
        y0, x0 = int(y), int(x)
        sl = (slice(max(0, y0 - 6), min(height, y0 + 7)), slice(max(0, x0 - 6), min(width, x0 + 7)))
        yy, xx = np.mgrid[sl]
        sky[sl] += (flux / (2 * np.pi * 2.0 ** 2) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)).astype(np.float32)
    paths = []
    for i in range(n):
        frame = sky + rng.standard_normal((height, width), dtype=np.float32) * np.float32(12.0)
        if i == n // 2:
            rows = np.arange(min(height, width))
            frame[rows, rows] += 5000.0
        path = directory / f"frame_{i:03d}.fits"
        fits.PrimaryHDU(frame).writeto(path)
        paths.append(path)
    return paths


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # kB on Linux


def _run(which: str, paths: list[Path], method: str, budget_mb: int, out: Path, queue) -> None:
    if which == "obsy":
        from master.processing.stack import stack_files
    else:
        import ccdproc
    base = _rss_mb()
    start = time.perf_counter()
    if which == "obsy":
        data = stack_files(paths, method=method, sigma=3.0, register=False,
                           memory_budget=budget_mb * 1024 * 1024).data
    else:
        data = ccdproc.combine([str(p) for p in paths], method="average" if method == "mean" else "median",
                               sigma_clip=True, sigma_clip_low_thresh=3, sigma_clip_high_thresh=3,
                               sigma_clip_func="median", sigma_clip_dev_func="mad_std", unit="adu").data
    elapsed = time.perf_counter() - start
    np.save(out, np.asarray(data, dtype=np.float32))
    queue.put((elapsed, _rss_mb() - base, _rss_mb()))


def measure(which: str, paths, method: str, budget_mb: int, out: Path) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(which, paths, method, budget_mb, out, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", default="3000x2000", help="WIDTHxHEIGHT")
    parser.add_argument("--method", choices=["mean", "median"], default="mean")
    parser.add_argument("--budget-mb", type=int, default=128, help="OBSY's memory budget for one band")
    parser.add_argument("--skip-ccdproc", action="store_true")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="obsy-bench-stack-"))
    try:
        start = time.perf_counter()
        paths = make_frames(tmp, args.frames, width, height)
        frame_mb = width * height * 4 / 1e6
        print(f"{args.frames} frames of {width}x{height} float32 ({frame_mb:.0f} MB each, "
              f"{frame_mb * args.frames:.0f} MB in all) written in {time.perf_counter() - start:.1f} s")
        rows = {}
        for which in ("obsy",) + (() if args.skip_ccdproc else ("ccdproc",)):
            rows[which] = measure(which, paths, args.method, args.budget_mb, tmp / f"{which}.npy")
            elapsed, peak, total = rows[which]
            print(f"{which:8s} {args.method}: {elapsed:7.2f} s   peak RSS +{peak:7.0f} MB (process {total:.0f} MB)")
        if "ccdproc" in rows:
            ours, theirs = np.load(tmp / "obsy.npy"), np.load(tmp / "ccdproc.npy")
            differ = ~np.isclose(ours, theirs, rtol=1e-5, atol=1e-3)
            print(f"max |obsy - ccdproc| = {np.abs(ours - theirs).max():.3g} ADU; "
                  f"{int(differ.sum())} of {ours.size} pixels beyond rtol 1e-5")
            (t1, m1, _), (t2, m2, _) = rows["obsy"], rows["ccdproc"]
            print(f"ratios obsy/ccdproc: time {t1 / t2:.2f}, peak memory {m1 / max(m2, 1e-9):.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
