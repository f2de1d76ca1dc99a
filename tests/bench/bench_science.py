"""Time and peak memory of the science pipelines (not part of the test suite).

    .venv/bin/python -m tests.bench.bench_science [--frames 500] [--stars 50] [--size 512]
                                                  [--ser-frames 2000] [--slit 600] [--waves 64]

Photometry: N generated frames (``--size`` square, float32, ``--stars`` Gaussian stars, a site so
that BJD_TDB and airmass are computed) measured by ``measure_files`` (centroids, FWHM fit, annulus
statistics, CCD-equation errors), then ``differential_photometry``. Baseline, same frames, same
run: the bare minimum — read each file and sum fixed circular apertures with photutils.

Sol'ex: a generated SER scan of ``--ser-frames`` frames (``--slit`` rows along the slit, ``--waves``
columns in wavelength, 16-bit) rebuilt by ``reconstruct_file`` (read, line fit, extraction, ellipse,
geometry, CLAHE, FITS + PNG), compared with the time the scan takes to record at 30 fps and, as the
baseline of the same run, with reading the SER file alone.

Plate solving: ``--solve-frames`` simulated frames of a series (500x400 px, rotated 2 degrees from
the reference, drifting a pixel a frame) matched by star pattern to a solved one (``match_reference``: sep on both, astroalign, the
reference WCS carried over) against the baseline of the same run, the sep detection alone; the worst
position error of the recovered WCS against the true one is printed too.

Each measurement runs in a fresh (spawned) process, so its peak resident memory is its own.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

FPS = 30.0


def _rss_mb() -> float:
    """Peak resident memory of this process, MB. VmHWM, not ru_maxrss: ru_maxrss survives exec and
    would report the parent's size at the fork (holding the generated scan) as the child's."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def star_field(n_stars: int, size: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    margin = 30
    # on a jittered grid: isolated stars, as comparison stars are chosen
    side = int(np.ceil(np.sqrt(n_stars)))
    grid = np.linspace(margin, size - margin, side)
    xy = np.array([(x, y) for y in grid for x in grid][:n_stars]) + rng.uniform(-3, 3, (n_stars, 2))
    return xy


def make_frames(directory: Path, n: int, n_stars: int, size: int, seed: int = 1) -> tuple[list[Path], np.ndarray]:
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    xy = star_field(n_stars, size)
    flux = rng.uniform(2e4, 3e5, n_stars)
    sky = np.full((size, size), 500.0, np.float32)
    sigma = 3.0 / 2.3548
    for (x, y), f in zip(xy, flux):
        x0, y0 = int(x), int(y)
        sl = (slice(y0 - 10, y0 + 11), slice(x0 - 10, x0 + 11))
        yy, xx = np.mgrid[sl]
        sky[sl] += (f / (2 * np.pi * sigma**2) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))).astype(
            np.float32)
    paths = []
    for i in range(n):
        header = fits.Header({"DATE-OBS": f"2024-03-01T{21 + i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}",
                              "EXPTIME": 30.0, "FILTER": "V", "RA": 150.0, "DEC": 55.0, "SITELAT": 48.0,
                              "SITELONG": 2.0, "SITEELEV": 100.0, "EGAIN": 1.0})
        frame = sky + rng.standard_normal((size, size), dtype=np.float32) * np.float32(10.0)
        path = directory / f"frame_{i:04d}.fits"
        fits.PrimaryHDU(frame, header=header).writeto(path)
        paths.append(path)
    return paths, xy


def make_scan(path: Path, n: int, rows: int, waves: int, seed: int = 0) -> None:
    """A limb-darkened disk drifting across the slit, through a curved absorption line."""
    from master.science.ser import write_ser

    rng = np.random.default_rng(seed)
    radius = 0.4 * min(rows, n / 1.2)
    y = np.arange(rows)[:, None]
    w = np.arange(waves)[None, :]
    line = np.exp(-((w - (waves / 2 + 4e-5 * (y - rows / 2) ** 2)) ** 2) / (2 * 1.8**2))
    frames = np.empty((n, rows, waves), np.uint16)
    for i in range(n):
        xx = 1.2 * (i - n / 2)
        r2 = (xx**2 + (y - rows / 2) ** 2) / radius**2
        disk = np.where(r2 < 1, 20000 * (1 - 0.6 * (1 - np.sqrt(np.clip(1 - r2, 0, 1)))), 50.0)
        frames[i] = np.clip(disk * (1 - 0.8 * line) + rng.normal(0, 30, (rows, waves)), 0, 65535)
    write_ser(path, frames, pixel_depth=16)


def _photometry(which: str, paths: list[Path], xy: np.ndarray, queue) -> None:
    from astropy.io import fits

    from master.science.photometry import Star, differential_photometry, measure_files
    from photutils.aperture import CircularAperture, aperture_photometry

    stars = [Star(f"S{i}", x=float(x), y=float(y)) for i, (x, y) in enumerate(xy)]
    base = _rss_mb()
    start = time.perf_counter()
    if which == "obsy":
        frames, errors = measure_files(paths, stars)
        assert not errors, errors[:3]
        differential_photometry(frames, stars[0], stars[1:])
    else:
        aperture = CircularAperture(xy, r=5.0)
        for path in paths:
            aperture_photometry(fits.getdata(path), aperture)
    queue.put((time.perf_counter() - start, _rss_mb() - base, _rss_mb()))


def _solex(which: str, path: Path, out: Path, queue) -> None:
    from master.science.ser import read_ser
    from master.science.solex_job import reconstruct_file

    base = _rss_mb()
    start = time.perf_counter()
    if which == "obsy":
        result, _, _ = reconstruct_file(path, out, stem="bench")
        extra = f"radius {result.radius:.1f} px, line rms {result.line.rms:.3f} px"
    else:
        read_ser(path)
        extra = ""
    queue.put((time.perf_counter() - start, _rss_mb() - base, _rss_mb(), extra))


def measured(target, *args):
    context = multiprocessing.get_context("spawn")  # a fork would inherit the parent's memory
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--stars", type=int, default=50)
    parser.add_argument("--size", type=int, default=512, help="photometry frame side, px")
    parser.add_argument("--ser-frames", type=int, default=2000)
    parser.add_argument("--slit", type=int, default=1100, help="SER frame rows (along the slit)")
    parser.add_argument("--waves", type=int, default=128, help="SER frame columns (wavelength)")
    parser.add_argument("--skip-photometry", action="store_true")
    parser.add_argument("--skip-solex", action="store_true")
    parser.add_argument("--solve-frames", type=int, default=40)
    parser.add_argument("--skip-platesolve", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="obsy-bench-science-"))
    try:
        if not args.skip_photometry:
            bench_photometry(tmp, args)
        if not args.skip_solex:
            bench_solex(tmp, args)
        if not args.skip_platesolve:
            bench_platesolve(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_photometry(tmp: Path, args) -> None:
    t0 = time.perf_counter()
    paths, xy = make_frames(tmp, args.frames, args.stars, args.size)
    print(f"photometry: {args.frames} frames of {args.size}x{args.size} px, {args.stars} stars "
          f"(written in {time.perf_counter() - t0:.1f} s)")
    obsy = measured(_photometry, "obsy", paths, xy)
    bare = measured(_photometry, "baseline", paths, xy)
    print(f"  obsy measure_files + differential_photometry: {obsy[0]:7.2f} s "
          f"({1000 * obsy[0] / args.frames:.1f} ms/frame), peak RSS +{obsy[1]:.0f} MB (total {obsy[2]:.0f} MB)")
    print(f"  baseline read + fixed apertures (photutils):   {bare[0]:7.2f} s "
          f"({1000 * bare[0] / args.frames:.1f} ms/frame), peak RSS +{bare[1]:.0f} MB")
    print(f"  ratio obsy / baseline: {obsy[0] / bare[0]:.2f}")
    for p in paths:
        p.unlink()


def bench_solex(tmp: Path, args) -> None:
    ser = tmp / "scan.ser"
    t0 = time.perf_counter()
    make_scan(ser, args.ser_frames, args.slit, args.waves)
    size_mb = ser.stat().st_size / 2**20
    print(f"sol'ex: {args.ser_frames} frames of {args.slit}x{args.waves} px, 16 bit, {size_mb:.0f} MB "
          f"(written in {time.perf_counter() - t0:.1f} s)")
    obsy = measured(_solex, "obsy", ser, tmp / "out")
    read = measured(_solex, "baseline", ser, tmp / "out")
    record = args.ser_frames / FPS
    print(f"  obsy reconstruct_file (read, fit, FITS + PNG): {obsy[0]:7.2f} s, peak RSS +{obsy[1]:.0f} MB "
          f"(total {obsy[2]:.0f} MB); {obsy[3]}")
    print(f"  baseline read_ser alone:                       {read[0]:7.2f} s, peak RSS +{read[1]:.0f} MB")
    print(f"  recording at {FPS:.0f} fps: {record:.1f} s; ratio reconstruction / recording: "
          f"{obsy[0] / record:.3f}; reconstruction / read: {obsy[0] / read[0]:.2f}")


def bench_platesolve(args) -> None:
    import dataclasses
    from datetime import datetime

    from master.science.platesolve import Reference, celestial_wcs, detect_stars, match_reference
    from node_telescope.simulator.camera import SimulatedCamera

    cam = SimulatedCamera(width=500, height=400, focal_length_mm=600, seeing_fwhm_arcsec=4.0, gain_e_per_adu=4.0,
                          zero_point_mag=24.0)
    when = datetime(2024, 3, 1, 22, 0)

    def shot(camera, ra, dec, seed):
        hdul = camera.capture(ra, dec, 30.0, "L", "light", when, site=(48.0, 2.0, 100.0), rng_seed=seed)
        return celestial_wcs(hdul[0].header), hdul[0].data.astype(np.float32)

    ref_wcs, ref_data = shot(cam, 150.0, 55.0, 1)
    rng = np.random.default_rng(3)
    # a night's series: field rotated 2 degrees from the reference, drifting about a pixel a frame
    step = 1.2 * cam.plate_scale_arcsec / 3600.0
    frames = [shot(dataclasses.replace(cam, rotation_deg=2.0 + float(rng.normal(0, 0.05))),
                   150.0 + 0.004 + i * step, 55.0 - 0.003 + i * step / 2, 10 + i) for i in range(args.solve_frames)]
    reference = Reference.from_frame(ref_data, ref_wcs)
    grid = np.column_stack([g.ravel() for g in np.mgrid[0:500:50, 0:400:50]]).astype(float)
    start = time.perf_counter()
    solved = [match_reference(data, reference)[0] for _, data in frames]
    solve = time.perf_counter() - start
    worst = max(float(np.max(np.hypot(*(truth.all_world2pix(wcs.all_pix2world(grid, 0), 0) - grid).T)))
                for (truth, _), wcs in zip(frames, solved))
    start = time.perf_counter()
    for _, data in frames:
        detect_stars(data)
    detect = time.perf_counter() - start
    n = args.solve_frames
    print(f"plate solving by star pattern: {n} frames of 500x400 px")
    print(f"  obsy match_reference: {solve:6.2f} s ({1000 * solve / n:.1f} ms/frame); worst error {worst:.3f} px")
    print(f"  baseline sep detection alone: {detect:6.2f} s ({1000 * detect / n:.1f} ms/frame)")
    print(f"  ratio match / detection: {solve / detect:.2f}")


if __name__ == "__main__":
    main()
