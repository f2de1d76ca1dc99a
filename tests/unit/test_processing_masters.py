"""Master bias, dark and flat from the simulated camera, checked against ccdproc."""
from __future__ import annotations

import hashlib
import tracemalloc
from dataclasses import replace

import astropy.units as u
import ccdproc
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from master.fitsmeta.normalize import FrameMeta
from master.processing.combine import FrameCube, band_rows, combine_arrays, combine_cube
from master.processing.masters import (CalibrationError, bad_pixel_map, build_master_bias, build_master_dark,
                                       build_master_dark_flat, build_master_flat, calibration_group, load_master,
                                       scan_frames, write_master)

from .test_processing_data import calibration_set, camera, write

CLIP = dict(sigma_clip=True, sigma_clip_low_thresh=3, sigma_clip_high_thresh=3, sigma_clip_func="median",
            sigma_clip_dev_func="mad_std", unit="adu")


@pytest.fixture(scope="module")
def cam():
    return camera()


@pytest.fixture(scope="module")
def frames(cam, tmp_path_factory):
    return calibration_set(cam, tmp_path_factory.mktemp("cal"))


@pytest.fixture(scope="module")
def bias(frames):
    return build_master_bias(frames["bias"])


@pytest.fixture(scope="module")
def dark(frames, bias):
    return build_master_dark(frames["dark"], bias=bias)


def _ccd(path_or_array) -> CCDData:
    if isinstance(path_or_array, np.ndarray):
        return CCDData(path_or_array.astype(np.float64), unit="adu")
    return CCDData.read(path_or_array, unit="adu")


# --------------------------------------------------------------------------- grouping


def test_calibration_group_keys():
    dark = FrameMeta(frame_type="dark", camera="Cam", binning_x=1, binning_y=1, gain=100, offset=50,
                     set_temp_c=-10.0, exposure_s=60.0, filter_name="L")
    assert calibration_group(dark) == ("dark", "Cam", 1, 1, 100, 50, -10.0, 60.0, None)
    assert calibration_group(replace(dark, set_temp_c=-10.4)) == calibration_group(dark)
    assert calibration_group(replace(dark, set_temp_c=-15.0)) != calibration_group(dark)
    assert calibration_group(replace(dark, exposure_s=30.0)) != calibration_group(dark)
    assert calibration_group(replace(dark, gain=200)) != calibration_group(dark)
    assert calibration_group(replace(dark, binning_x=2, binning_y=2)) != calibration_group(dark)
    # no set point recorded: the sensor temperature stands in
    assert calibration_group(replace(dark, set_temp_c=None, ccd_temp_c=-9.8))[6] == -10.0
    flat = replace(dark, frame_type="flat", exposure_s=2.0)
    # flats: the filter matters, exposure and temperature do not
    assert calibration_group(flat)[6:] == (None, None, "L")
    assert calibration_group(replace(flat, exposure_s=3.0, set_temp_c=0.0)) == calibration_group(flat)
    assert calibration_group(replace(flat, filter_name="R")) != calibration_group(flat)
    assert calibration_group(replace(dark, frame_type="bias", exposure_s=0.0))[7] is None


# --------------------------------------------------------------------------- against ccdproc


def assert_matches(actual, expected, rtol=1e-5, atol=1e-4, max_fraction=1e-4):
    """Equal within float tolerance, but for a few pixels where a value sits on a clipping threshold.

    Our cube stores float32 and ccdproc computes in float64: a value within rounding of a threshold
    can be kept by one and rejected by the other (one pixel in 32000 for the flats here).
    """
    close = np.isclose(actual, expected, rtol=rtol, atol=atol)
    assert (~close).mean() <= max_fraction, f"{(~close).sum()} pixels differ"


def test_master_bias_matches_ccdproc_mean_and_median(frames, bias):
    paths = [str(p) for p in frames["bias"]]
    reference = ccdproc.combine(paths, method="average", **CLIP)
    np.testing.assert_allclose(bias.data, reference.data, rtol=1e-6, atol=1e-4)
    median = build_master_bias(frames["bias"], method="median")
    reference = ccdproc.combine(paths, method="median", **CLIP)
    np.testing.assert_allclose(median.data, reference.data, rtol=1e-6, atol=1e-4)
    assert bias.data.dtype == np.float32


def test_master_dark_matches_ccdproc(frames, bias, dark):
    debiased = [ccdproc.subtract_bias(_ccd(str(p)), _ccd(bias.data)) for p in frames["dark"]]
    reference = ccdproc.combine(debiased, method="average", **CLIP)
    assert_matches(dark.data, reference.data, atol=1e-3)
    assert dark.bias_subtracted


def test_master_flat_matches_ccdproc(frames, bias, dark):
    flat = build_master_flat(frames["flat"], bias=bias, dark=dark)
    prepared = []
    for p in frames["flat"]:
        ccd = ccdproc.subtract_bias(_ccd(str(p)), _ccd(bias.data))
        ccd = ccdproc.subtract_dark(ccd, _ccd(dark.data), dark_exposure=60 * u.s, data_exposure=2 * u.s,
                                    scale=True)
        prepared.append(ccd)
    # normalised before combining: ccdproc's own ``scale`` applies only after its clipping
    normalised = [c.multiply(1.0 / np.median(c.data)) for c in prepared]
    reference = ccdproc.combine(normalised, method="average", **CLIP)
    expected = reference.data / np.median(reference.data)
    assert_matches(flat.data, expected, atol=1e-5)
    assert np.median(flat.data) == pytest.approx(1.0, abs=1e-6)
    # the flat holds the vignetting: the corner 30 % darker than the centre
    assert flat.data[0, 0] / flat.data[78:82, 98:102].mean() == pytest.approx(0.7, abs=0.02)


def test_streaming_bands_give_the_same_result_as_one_band(frames):
    rng = np.random.default_rng(3)
    stack = [rng.normal(100, 5, (160, 200)).astype(np.float32) for _ in range(9)]
    stack[4][50, 60] = 5000.0   # a cosmic ray
    one = combine_arrays(stack, memory_budget=1 << 30)
    many = combine_arrays(stack, memory_budget=9 * 200 * 8 * 4 * 3)   # three rows per band
    assert band_rows(9, 200, 9 * 200 * 8 * 4 * 3) == 3
    np.testing.assert_array_equal(one.data, many.data)
    np.testing.assert_array_equal(one.rejected, many.rejected)
    assert one.rejected[50, 60] >= 1 and one.data[50, 60] < 110
    assert set(np.unique(one.coverage + one.rejected)) == {9}


def test_combine_weights_missing_values_and_errors():
    a, b = np.full((4, 5), 1.0, np.float32), np.full((4, 5), 4.0, np.float32)
    b[0, 0] = np.nan   # outside a registered footprint: neither used nor rejected
    result = combine_arrays([a, b], sigma=None, weights=[3.0, 1.0])
    assert result.data[1, 1] == pytest.approx((3 * 1 + 4) / 4)
    assert result.data[0, 0] == 1.0 and result.coverage[0, 0] == 1 and result.rejected[0, 0] == 0
    with pytest.raises(ValueError):
        combine_arrays([a, b], weights=[1.0])
    with pytest.raises(ValueError):
        combine_arrays([a, b], method="mode")
    with FrameCube(1, (4, 5)) as cube:
        with pytest.raises(ValueError):
            cube[0] = np.zeros((5, 4))
    with pytest.raises(ValueError):
        FrameCube(0, (4, 5))


def test_combine_memory_does_not_grow_with_frame_count():
    """Peak traced allocations while combining 4 or 40 frames from the disk cube stay the same."""
    budget = 256 * 1024
    frame = np.random.default_rng(1).normal(0, 1, (160, 200)).astype(np.float32)
    peaks = {}
    for n in (4, 40):
        with FrameCube(n, frame.shape) as cube:
            for i in range(n):
                cube[i] = frame + i
            tracemalloc.start()
            combine_cube(cube, memory_budget=budget)
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    frame_bytes = frame.size * 8
    assert peaks[40] < 1.5 * peaks[4]
    assert peaks[40] < 6 * frame_bytes          # 40 frames in float64 would be 40 x frame_bytes
    assert peaks[40] < budget + 3 * frame.size * 4 + 64 * 1024   # band + the three output planes


# --------------------------------------------------------------------------- headers, files, bad pixels


def test_master_header_records_inputs_and_group(frames, dark, tmp_path):
    header = dark.header
    assert header["NCOMBINE"] == 7 and header["IMAGETYP"] == "Master Dark"
    assert header["EXPTIME"] == 60.0 and header["SET-TEMP"] == -10.0 and header["GAIN"] == 100
    assert header["INSTRUME"] == "OBSY Simulator CCD" and header["XBINNING"] == 1
    history = [str(h) for h in header["HISTORY"]]
    for p in frames["dark"]:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        at = history.index(f"input {p.name}")
        assert history[at + 1] == f"sha256:{digest}"
    path = write_master(replace(dark), tmp_path / "master_dark.fits")   # a copy: write_master sets .path
    again = load_master(path)
    assert again.kind == "dark" and again.meta.exposure_s == 60.0 and again.bias_subtracted
    np.testing.assert_array_equal(again.data, dark.data)
    np.testing.assert_array_equal(again.bad_pixels, dark.bad_pixels)


def test_bad_pixel_map_finds_the_sensor_hot_pixels(cam, dark):
    hot = np.zeros(dark.data.size, bool)
    hot[cam._get_sensor().hot_index] = True
    hot = hot.reshape(dark.data.shape)
    found = bad_pixel_map(dark)
    assert (found & hot).sum() >= 0.9 * hot.sum()
    assert (found & ~hot).sum() <= 3
    assert dark.header["NBADPIX"] == int(found.sum())


def test_flats_of_different_levels_give_the_same_flat(tmp_path, frames, bias, dark):
    """Flats of different brightness (a fading panel) are normalised one by one: same master flat."""
    paths = []
    for i, level in enumerate((0.3, 0.5, 0.7) * 3):
        paths.append(write(camera(flat_level=level), tmp_path / f"f{i}.fits", 500 + i, "flat", 2.0))
    mixed = build_master_flat(paths, bias=bias, dark=dark)
    steady = build_master_flat(frames["flat"], bias=bias, dark=dark)
    assert np.median(mixed.data) == pytest.approx(1.0)
    assert np.std(mixed.data / steady.data) < 0.005      # PRNU is 0.5 %, the noise of each flat less
    assert mixed.header["BIASFILE"] == "master bias" and mixed.header["DARKFILE"] == "master dark"


def test_mixed_groups_wrong_types_and_bad_files_are_refused(frames, tmp_path):
    with pytest.raises(CalibrationError, match="calibration groups"):
        build_master_dark(frames["dark"][:2] + [frames["bias"][0]])
    with pytest.raises(CalibrationError, match="not bias frames"):
        build_master_bias(frames["dark"][:2])
    junk = tmp_path / "junk.fits"
    junk.write_text("not an image")
    with pytest.raises(CalibrationError, match="junk.fits: not a FITS file"):
        build_master_bias([junk] + frames["bias"][:2])
    good, errors = scan_frames([junk, frames["bias"][0]])
    assert len(good) == 1 and errors[0][0] == junk
    with pytest.raises(CalibrationError, match="no frames"):
        build_master_bias([])
    small = camera(width=100, height=80)
    other = write(small, tmp_path / "small.fits", 1, "bias", 0.0)
    with pytest.raises(CalibrationError, match="different sizes"):
        build_master_bias([other, frames["bias"][0]])
    with pytest.raises(ValueError):
        from master.processing.masters import build_master
        build_master("light", frames["bias"])
    header = fits.getheader(frames["bias"][0])
    assert header["IMAGETYP"] == "Bias Frame"


def test_dark_flats_and_edge_cases(cam, tmp_path, frames, bias, dark):
    paths = []
    for i in range(5):
        path = write(cam, tmp_path / f"df{i}.fits", 800 + i, "dark", 2.0)
        with fits.open(path, mode="update") as hdul:
            hdul[0].header["IMAGETYP"] = "Dark Flat"
            hdul[0].header["FRAME"] = "DarkFlat"
        paths.append(path)
    dark_flat = build_master_dark_flat(paths, bias=bias)
    assert dark_flat.kind == "dark_flat" and dark_flat.header["IMAGETYP"] == "Master DarkFlat"
    assert dark_flat.bad_pixels is None
    flat = build_master_flat(frames["flat"], bias=bias, dark=dark, dark_flat=dark_flat)
    assert flat.header["DARKFILE"] == "master dark_flat"
    reference = build_master_flat(frames["flat"], bias=bias, dark=dark)
    difference = np.abs(flat.data - reference.data)   # two ways of removing the same dark current
    assert np.median(difference) < 1e-4 and difference.max() < 1e-2
    # a bias-subtracted dark needs its bias
    with pytest.raises(CalibrationError, match="master bias is needed"):
        build_master_flat(frames["flat"], dark=dark)
    # masters of another size, and flats with no light in them, are refused
    small = replace(bias, data=bias.data[:80, :100])
    with pytest.raises(CalibrationError, match=r"is \(80, 100\), the frames are \(160, 200\)"):
        build_master_dark(frames["dark"], bias=small)
    with pytest.raises(CalibrationError, match="flat has a median of"):
        build_master_flat([frames["flat"][0]], bias=replace(bias, data=bias.data + 60000))
    # a constant dark has no spread: nothing is hot
    assert not bad_pixel_map(replace(dark, data=np.zeros((4, 4), np.float32))).any()


def test_load_master_normalises_a_flat_and_refuses_lights(tmp_path, frames, bias):
    flat = build_master_flat(frames["flat"], bias=bias)
    path = tmp_path / "flat.fits"
    fits.PrimaryHDU(data=flat.data * 3000, header=flat.header).writeto(path)   # a flat kept in ADU
    assert np.median(load_master(path).data) == pytest.approx(1.0)
    fits.PrimaryHDU(data=flat.data * 0, header=flat.header).writeto(tmp_path / "zero.fits")
    with pytest.raises(CalibrationError, match="flat with median 0"):
        load_master(tmp_path / "zero.fits")
    light = write(camera(), tmp_path / "light.fits", 1, "light", 10.0)
    with pytest.raises(CalibrationError, match="not a calibration frame"):
        load_master(light)


def test_combine_progress_and_empty_subset():
    calls = []
    with FrameCube(3, (10, 4)) as cube:
        combine_cube(cube, memory_budget=3 * 4 * 8 * 4 * 4, progress=calls.append)
        with pytest.raises(ValueError, match="nothing"):
            combine_cube(cube, frames=[])
    assert calls == [4, 4, 2]
