"""Calibrate, register and stack: OBSY against siril-cli, and against ccdproc.combine for the stack step.

    nice -n 10 .venv/bin/python -m tests.bench.bench_pipeline [--lights 50] [--calibration 20]
                                                                [--size 4096x3072] [--skip-siril]

Not part of the suite. Writes 16-bit frames into a temporary folder: ``--calibration`` each of bias,
dark and flat (same exposure as the lights, so no dark scaling on either side) and ``--lights``
lights whose star field drifts by a few pixels and turns a little from frame to frame (so
registration has work to do), with one satellite trail. Then, each in a fresh process so that its
peak resident memory is its own:

* ``obsy``: ``obsy process masters``, ``calibrate --masters``, ``stack`` (register, 3-sigma mean);
* ``siril``: a siril-cli script doing the same steps on the same files (convert, stack masters with
  3-sigma rejection, preprocess the lights with the dark and the bias-calibrated flat, register,
  3-sigma stack without normalisation);
* the stacking step alone on OBSY's calibrated lights: ``stack --no-register`` against
  ``ccdproc.combine`` (3-sigma clip around the median, MAD spread; ``mem_limit`` 2 GB so that it
  works in chunks instead of holding all frames as float64).

Prints wall time and peak RSS of each, and the ratios.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXPOSURE = 120.0


def _write(path: Path, data: np.ndarray, kind: str, exposure: float) -> None:
    from astropy.io import fits

    header = fits.Header()
    header["IMAGETYP"] = kind
    header["EXPTIME"] = exposure
    header["INSTRUME"] = "Bench Cam"
    header["GAIN"] = 100
    header["OFFSET"] = 10
    header["SET-TEMP"] = -10.0
    header["CCD-TEMP"] = -10.0
    header["XBINNING"] = 1
    header["YBINNING"] = 1
    header["FILTER"] = "L"
    header["DATE-OBS"] = "2026-11-30T22:00:00"
    hdu = fits.PrimaryHDU(np.clip(data, 0, 65535).astype(np.uint16), header=header)
    hdu.writeto(path)


def make_frames(root: Path, lights: int, calibration: int, width: int, height: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / (0.6 * max(width, height)) ** 2
    vignetting = (1.0 - 0.3 * r2).astype(np.float32)
    del xx, yy, r2
    bias_pattern = 1000.0 + rng.normal(0, 3, (height, width)).astype(np.float32)
    dark_current = np.full((height, width), 0.02 * EXPOSURE, np.float32)
    hot = rng.integers(0, height * width, 2000)
    dark_current.flat[hot] = rng.uniform(500, 5000, len(hot))
    n_stars = 400
    star_x, star_y = rng.uniform(50, width - 50, n_stars), rng.uniform(50, height - 50, n_stars)
    fluxes = rng.uniform(3e3, 8e4, n_stars)
    for kind in ("bias", "dark", "flat", "light"):
        (root / kind).mkdir()
    for i in range(calibration):
        # each frame its own read noise: darks sharing their bias's noise would subtract to a
        # noise-free dark, and the bad-pixel map would flag pixels for quantisation steps
        bias = bias_pattern + rng.normal(0, 8, (height, width)).astype(np.float32)
        _write(root / "bias" / f"bias_{i + 1:03d}.fits", bias, "Bias Frame", 0.0)
        dark = bias_pattern + dark_current + rng.normal(0, 8, (height, width)).astype(np.float32)
        _write(root / "dark" / f"dark_{i + 1:03d}.fits", dark, "Dark Frame", EXPOSURE)
        del bias, dark
        flat = bias_pattern + 25000.0 * vignetting + rng.normal(0, 150, (height, width)).astype(np.float32)
        _write(root / "flat" / f"flat_{i + 1:03d}.fits", flat, "Flat Field", 1.0)
    for i in range(lights):
        dx, dy, angle = rng.uniform(-8, 8), rng.uniform(-8, 8), np.radians(rng.uniform(-0.1, 0.1))
        cx, cy = width / 2, height / 2
        x = cx + (star_x - cx) * np.cos(angle) - (star_y - cy) * np.sin(angle) + dx
        y = cy + (star_x - cx) * np.sin(angle) + (star_y - cy) * np.cos(angle) + dy
        sky = np.full((height, width), 600.0, np.float32)
        for sx, sy, flux in zip(x, y, fluxes):
            y0, x0 = int(sy), int(sx)
            sl = (slice(y0 - 7, y0 + 8), slice(x0 - 7, x0 + 8))
            gy, gx = np.mgrid[sl]
            sky[sl] += (flux / (2 * np.pi * 2.2 ** 2) * np.exp(-((gx - sx) ** 2 + (gy - sy) ** 2) / (2 * 2.2 ** 2)))
        if i == lights // 2:
            rows = np.arange(min(height, width))
            sky[rows, rows] += 8000.0
        signal = sky * vignetting
        light = bias_pattern + dark_current + signal + rng.normal(0, 1, (height, width)).astype(np.float32) \
            * np.sqrt(signal + 64.0)
        _write(root / "light" / f"light_{i + 1:03d}.fits", light, "Light Frame", EXPOSURE)


SIRIL_SCRIPT = """requires 1.0.0
setext fits
cd bias
convert bias -out=../process
cd ../process
stack bias rej 3 3 -nonorm
cd ../dark
convert dark -out=../process
cd ../process
stack dark rej 3 3 -nonorm
cd ../flat
convert flat -out=../process
cd ../process
preprocess flat -bias=bias_stacked
stack pp_flat rej 3 3 -norm=mul
cd ../light
convert light -out=../process
cd ../process
preprocess light -dark=dark_stacked -flat=pp_flat_stacked -cc=dark
register pp_light
stack r_pp_light rej 3 3 -nonorm -out=../siril_result
"""


def _peak_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _obsy_pipeline(root: Path) -> None:
    from master.processing.cli import process_group

    def run(*args):
        process_group.main(list(args), standalone_mode=False)

    run("masters", str(root / "bias"), str(root / "dark"), str(root / "flat"), "--out", str(root / "masters"))
    run("calibrate", str(root / "light"), "--masters", str(root / "masters"), "--out", str(root / "calibrated"))
    run("stack", str(root / "calibrated"), "--out", str(root / "obsy_result.fits"))


def _obsy_combine(root: Path) -> None:
    from master.processing.cli import process_group

    process_group.main(["stack", str(root / "calibrated"), "--no-register", "--out", str(root / "obsy_combine.fits")],
                       standalone_mode=False)


def _ccdproc_combine(root: Path) -> None:
    import ccdproc

    files = sorted(str(p) for p in (root / "calibrated").glob("*.fits"))
    ccdproc.combine(files, output_file=str(root / "ccdproc_combine.fits"), method="average", sigma_clip=True,
                    sigma_clip_low_thresh=3, sigma_clip_high_thresh=3, sigma_clip_func="median",
                    sigma_clip_dev_func="mad_std", mem_limit=2e9, unit="adu", overwrite_output=True)


def _siril(root: Path) -> None:
    (root / "process").mkdir(exist_ok=True)
    (root / "pipeline.ssf").write_text(SIRIL_SCRIPT)
    log = root / "siril.log"
    with open(log, "w") as out:
        done = subprocess.run(["siril-cli", "-d", str(root), "-s", str(root / "pipeline.ssf")], stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0 or not (root / "siril_result.fits").exists():
        raise RuntimeError(f"siril-cli failed (exit {done.returncode}); see the end of {log}:\n"
                           + "\n".join(log.read_text().splitlines()[-15:]))


def _child(which: str, root: Path, queue) -> None:
    import os

    os.nice(10)
    start = time.perf_counter()
    {"obsy": _obsy_pipeline, "siril": _siril, "obsy-combine": _obsy_combine,
     "ccdproc-combine": _ccdproc_combine}[which](root)
    elapsed = time.perf_counter() - start
    queue.put((elapsed, max(_peak_mb(), _peak_mb(resource.RUSAGE_CHILDREN))))


def measure(which: str, root: Path) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(which, root, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{which} failed (exit {process.exitcode})")
    return queue.get()


def _ratio(rows, a: str, b: str) -> None:
    (t1, m1), (t2, m2) = rows[a], rows[b]
    print(f"ratios {a}/{b}: time {t1 / t2:.2f} ({t2 / t1:.2f}x faster), peak memory {m1 / m2:.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lights", type=int, default=50)
    parser.add_argument("--calibration", type=int, default=20, help="frames of each of bias, dark and flat")
    parser.add_argument("--size", default="4096x3072", help="WIDTHxHEIGHT")
    parser.add_argument("--skip-siril", action="store_true")
    parser.add_argument("--keep", help="keep the files in this folder (must not exist)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="obsy-bench-pipeline-"))
    root.mkdir(parents=True, exist_ok=True)
    if not args.skip_siril and shutil.which("siril-cli") is None:
        raise SystemExit("siril-cli is not installed: scripts/install-system.sh test siril, or give --skip-siril")
    try:
        start = time.perf_counter()
        make_frames(root, args.lights, args.calibration, width, height)
        print(f"{args.lights} lights + {args.calibration} each of bias, dark, flat, {width}x{height} 16-bit, "
              f"written in {time.perf_counter() - start:.0f} s")
        rows = {}
        for which in ("obsy",) + (() if args.skip_siril else ("siril",)) + ("obsy-combine", "ccdproc-combine"):
            rows[which] = measure(which, root)
            print(f"{which:16s} {rows[which][0]:7.1f} s   peak RSS {rows[which][1]:6.0f} MB", flush=True)
        if "siril" in rows:
            _ratio(rows, "obsy", "siril")
        _ratio(rows, "obsy-combine", "ccdproc-combine")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
