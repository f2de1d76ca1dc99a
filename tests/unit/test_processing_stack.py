"""Registration and stacking of simulated lights taken with small pointing offsets."""
from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np
import pytest
import sep
from astropy.io import fits

from master.fitsmeta.reader import read_fits
from master.processing.stack import (RegistrationError, detect_stars, find_transform, frame_weight, stack_files,
                                     warp_to, write_stack)

from .test_processing_data import camera, write

N = 9
OFFSETS = [(0.0, 0.0), (3.3, -2.1), (-2.7, 1.6), (4.1, 3.4), (-3.8, -3.2), (1.2, 4.4), (-1.4, -4.3), (2.5, 0.7),
           (-4.4, 2.2)]
MARGIN = 8   # pixels at the edges not covered by every frame


@pytest.fixture(scope="module")
def clean_cam():
    """No hot pixels, no vignetting: lights that look calibrated."""
    return camera(hot_pixel_fraction=0.0, vignetting=0.0, prnu=0.0)


@pytest.fixture(scope="module")
def lights(clean_cam, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lights")
    return [write(clean_cam, tmp / f"light_{i:02d}.fits", 40 + i, "light", 60.0, offset_px=OFFSETS[i], minutes=i)
            for i in range(N)]


@pytest.fixture(scope="module")
def stacked(lights):
    return stack_files(lights, method="mean", sigma=3.0)


def _rms(image):
    core = np.ascontiguousarray(image[MARGIN:-MARGIN, MARGIN:-MARGIN], dtype=np.float32)
    return float(sep.Background(core, bw=32, bh=32).globalrms)


def test_registration_recovers_the_pointing_offsets(stacked):
    result = stacked
    assert result.failed == [] and len(result.used) == N
    for (dx, dy), (ox, oy) in zip(result.shifts, OFFSETS):
        assert dx == pytest.approx(ox, abs=0.15) and dy == pytest.approx(oy, abs=0.15)
    present = result.coverage.astype(int) + result.rejected   # values used + values clipped
    assert (present[MARGIN:-MARGIN, MARGIN:-MARGIN] == N).all()
    assert present[0].min() < N   # the edges lack the shifted frames


def test_stack_improves_snr_by_sqrt_n(lights, stacked):
    result = stacked
    reference_header, reference = read_fits(lights[0])
    ref_stars = detect_stars(reference)
    singles = []
    for path in lights:
        _, data = read_fits(path)
        singles.append(warp_to(data, find_transform(detect_stars(data), ref_stars), reference.shape)
                       if path != lights[0] else data.astype(np.float32))
    single_rms = math.sqrt(np.mean([_rms(s) ** 2 for s in singles]))
    gain = single_rms / _rms(result.data)
    # same interpolation in both; a 3-sigma clip costs a few per cent of efficiency
    assert gain == pytest.approx(math.sqrt(N), rel=0.12)
    # the signal is kept: the sky level and the brightest star's flux equal those of one frame
    assert np.median(result.data) == pytest.approx(np.median(singles[0]), rel=0.01)
    x, y = detect_stars(result.data, 1)[0]
    flux_stack = sep.sum_circle(np.ascontiguousarray(result.data) - np.median(result.data), [x], [y], 6.0)[0][0]
    flux_one = sep.sum_circle(singles[0] - np.median(singles[0]), [x], [y], 6.0)[0][0]
    assert flux_stack == pytest.approx(flux_one, rel=0.05)


def test_sigma_clipping_removes_a_satellite_trail_and_a_cosmic_ray(lights, tmp_path):
    spoiled = list(lights)
    with fits.open(lights[4]) as hdul:
        data = hdul[0].data.astype(np.int32)
        rows = np.arange(20, 140)
        data[rows, rows + 30] += 3000          # a diagonal trail
        data[rows, rows + 31] += 3000
        data[100, 40] = 60000                  # a cosmic ray
        hdul[0].data = np.clip(data, 0, 65535).astype(np.uint16)
        hdul.writeto(tmp_path / "trail.fits")
    spoiled[4] = tmp_path / "trail.fits"
    plain = stack_files(spoiled, sigma=None)
    clipped = stack_files(spoiled, sigma=3.0)
    clean = stack_files(lights[:4] + lights[5:], sigma=3.0)   # what the stack is without the spoiled frame
    dx, dy = clipped.shifts[4]
    trail = (np.round(rows + dy).astype(int), np.round(rows + 30.5 + dx).astype(int))   # frame + shift = reference
    noise = _rms(clean.data)
    assert np.median(plain.data[trail] - clean.data[trail]) > 100          # the trail shows in a plain mean
    assert np.abs(clipped.data[trail] - clean.data[trail]).max() < 3 * noise
    assert (clipped.rejected[trail] >= 1).mean() > 0.95
    cr = (int(round(100 + dy)), int(round(40 + dx)))
    assert plain.data[cr] - clean.data[cr] > 1000
    assert abs(clipped.data[cr] - clean.data[cr]) < 3 * noise


def test_median_and_weights(lights):
    median = stack_files(lights[:5], method="median")
    mean = stack_files(lights[:5], method="mean")
    assert _rms(median.data) > _rms(mean.data)   # the median is noisier (efficiency ~ 0.8 for 5 frames)
    weighted = stack_files(lights[:5], weights="noise")
    assert len(weighted.weights) == 5 and all(w > 0 for w in weighted.weights)
    by_stars = stack_files(lights[:3], weights="stars")
    assert all(w > 0 for w in by_stars.weights)
    only_first = stack_files(lights[:3], weights=[1.0, 0.0, 0.0], sigma=None)
    _, first = read_fits(lights[0])
    np.testing.assert_allclose(only_first.data, first.astype(np.float32), rtol=1e-6)
    with pytest.raises(ValueError):
        stack_files(lights[:3], weights="fwhm")
    with pytest.raises(ValueError):
        stack_files(lights[:3], weights=[1.0])
    with pytest.raises(ValueError):
        frame_weight(first, "fwhm")
    assert frame_weight(np.zeros((50, 50), np.float32), "stars") == 0.0


def test_frames_that_cannot_be_used_are_reported(lights, clean_cam, tmp_path):
    blank = write(clean_cam, tmp_path / "dark.fits", 5, "dark", 60.0)          # no stars at all
    junk = tmp_path / "notes.fits"
    junk.write_text("hello")
    small = write(camera(width=100, height=80), tmp_path / "small.fits", 5, "light", 60.0)
    result = stack_files([lights[0], blank, junk, lights[1], small], register=True)
    reasons = {p.name: r for p, r in result.failed}
    assert [p.name for p in result.used] == [lights[0].name, lights[1].name]
    assert "stars" in reasons["dark.fits"]
    assert reasons["notes.fits"].startswith("not a FITS file")
    assert set(reasons) == {"dark.fits", "notes.fits"} | ({"small.fits"} & set(reasons))
    unaligned = stack_files([lights[0], small], register=False)
    assert "differs from the reference" in dict((p.name, r) for p, r in unaligned.failed)["small.fits"]
    with pytest.raises(RegistrationError, match="no frame could be stacked"):
        stack_files([junk])
    with pytest.raises(RegistrationError, match="reference"):
        stack_files([blank, lights[0]])
    with pytest.raises(ValueError):
        stack_files([])


def test_write_stack_has_maps_and_provenance(lights, tmp_path):
    result = stack_files(lights[:3])
    path = write_stack(result, tmp_path / "stack.fits")
    with fits.open(path) as hdul:
        assert hdul[0].header["NCOMBINE"] == 3 and hdul[0].header["COMBMETH"] == "mean"
        assert hdul[0].header["TOTALEXP"] == 180.0
        assert [str(h) for h in hdul[0].header["HISTORY"]] == [f"stacked {p.name}" for p in lights[:3]]
        assert hdul["REJECTED"].data.dtype.kind == "u" and hdul["COVERAGE"].data.max() == 3
        assert hdul[0].data.dtype == np.dtype(">f4")


def test_stack_memory_does_not_grow_with_the_number_of_frames(clean_cam, tmp_path):
    """Peak traced memory while stacking 4 or 24 aligned frames: one frame plus one band, either way.

    Each frame read leaves a few kB of astropy header objects in reference cycles; with frames this
    small they would add up until the collector runs, so it runs after every frame. (Pixels never
    wait for it: ``test_reader_frees_pixels_without_the_garbage_collector``.)
    """
    paths = [write(clean_cam, tmp_path / f"m{i:02d}.fits", 300 + i, "light", 10.0) for i in range(24)]
    peaks = {}
    for n in (4, 24):
        tracemalloc.start()
        result = stack_files(paths[:n], register=False, memory_budget=256 * 1024,
                             progress=lambda _: gc.collect())
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(result.used) == n
    frame = 200 * 160 * 4
    assert peaks[24] < 1.3 * peaks[4]
    assert peaks[24] < 0.5 * 24 * frame    # 24 float32 frames in memory would be 3 MB


def test_detection_tolerates_nan_and_reports_sep_failures(lights, monkeypatch):
    _, data = read_fits(lights[0])
    image = data.astype(np.float32)
    image[:, :10] = np.nan   # outside a registered footprint
    assert len(detect_stars(image)) >= 10

    def overflow(*args, **kwargs):
        raise Exception("internal pixel buffer full")

    monkeypatch.setattr(sep, "extract", overflow)
    with pytest.raises(RegistrationError, match="star detection failed: internal pixel buffer full"):
        detect_stars(image)


def test_a_bright_trail_does_not_take_the_place_of_the_stars(lights, stacked):
    """Segments of a trail outshine every star; registering on them would fail or go wrong."""
    with fits.open(lights[3]) as hdul:
        data = hdul[0].data.astype(np.float32)
    rows = np.arange(5, 155)
    for k in range(3):
        data[rows, rows + 20 + k] += 20000.0
    stars = detect_stars(data)
    on_trail = np.abs((stars[:, 0] - 21) - stars[:, 1]) < 4
    assert len(stars) >= 10 and not on_trail.any()
    reference = detect_stars(read_fits(lights[0])[1])
    dx, dy = find_transform(stars, reference).translation
    assert (dx, dy) == pytest.approx(stacked.shifts[3], abs=0.3)
