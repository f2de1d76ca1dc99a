"""Calibrating simulated lights: hot pixels and vignetting gone, darks scaled, masters chosen by their keys."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from astropy.io import fits

from master.fitsmeta.normalize import normalize_header
from master.fitsmeta.reader import read_fits
from master.processing.calibrate import (calibrate_light, fix_bad_pixels, load_library, select_masters,
                                         write_calibrated)
from master.processing.masters import (CalibrationError, build_master_bias, build_master_dark, build_master_flat,
                                       write_master)

from .test_processing_data import calibration_set, camera, write


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calib")
    cam = camera()
    frames = calibration_set(cam, tmp / "cal", n=9)
    bias = build_master_bias(frames["bias"])
    dark = build_master_dark(frames["dark"], bias=bias)
    flat = build_master_flat(frames["flat"], bias=bias, dark=dark)
    hot = np.zeros(cam.width * cam.height, bool)
    hot[cam._get_sensor().hot_index] = True
    return dict(tmp=tmp, cam=cam, bias=bias, dark=dark, flat=flat, hot=hot.reshape(cam.height, cam.width))


def _light(setup, name, exposure=60.0, seed=7, **options):
    path = write(setup["cam"], setup["tmp"] / name, seed, "light", exposure, **options)
    header, data = read_fits(path)
    return header, data, normalize_header(header)


def _block_medians(data, n=4):
    h, w = data.shape
    return np.array([[np.median(data[i * h // n:(i + 1) * h // n, j * w // n:(j + 1) * w // n])
                      for j in range(n)] for i in range(n)])


def _hot_count(data, hot, sigma=5.0):
    """Known hot pixels standing more than ``sigma`` robust sigmas above the frame's median."""
    med = np.median(data)
    spread = 1.4826 * np.median(np.abs(data - med))
    return int((data[hot] > med + sigma * spread).sum())


def test_calibrated_light_loses_vignetting_and_hot_pixels(setup):
    _, raw, meta = _light(setup, "light.fits")
    out, record = calibrate_light(raw, meta, bias=setup["bias"], dark=setup["dark"], flat=setup["flat"],
                                  bad_pixels=False)
    assert record.warnings == [] and record.dark_scale == pytest.approx(1.0)
    assert (record.bias, record.dark, record.flat) == ("master bias", "master dark", "master flat")
    # flatness: spread of the 4 x 4 block medians of the sky (stars are few and small)
    before = np.ptp(_block_medians(raw.astype(np.float32)))
    after = np.ptp(_block_medians(out))
    assert before > 15          # ADU of vignetting across a 120 e- sky (19 measured)
    assert after * 8 < before   # measured 1.1 ADU after: a factor 17 (11-17 over seeds 7-10)
    # hot pixels: dark subtraction alone removes them
    hot = setup["hot"]
    assert _hot_count(raw.astype(np.float32), hot) >= 12   # 16 of the 64 stand out in 60 s
    assert _hot_count(out, hot) <= 2
    # with the bad-pixel map the residual noise of the hottest ones goes as well
    fixed, record = calibrate_light(raw, meta, bias=setup["bias"], dark=setup["dark"], flat=setup["flat"])
    assert record.bad_pixels_fixed == int(setup["dark"].bad_pixels.sum()) > 0
    assert np.abs(fixed[hot] - np.median(fixed)).max() < np.abs(out[hot] - np.median(out)).max()


def test_dark_scaled_by_exposure_when_a_bias_exists(setup):
    _, raw, meta = _light(setup, "light120.fits", exposure=120.0, seed=8)
    hot = setup["hot"]
    out, record = calibrate_light(raw, meta, bias=setup["bias"], dark=setup["dark"], flat=setup["flat"],
                                  bad_pixels=False)
    assert record.dark_scale == pytest.approx(2.0)
    assert any("scaled by 2" in step for step in record.steps)
    assert _hot_count(out, hot) <= 2
    # the same dark unscaled leaves half of every hot pixel's dark current in the frame
    unscaled = (raw - setup["bias"].data - setup["dark"].data) / setup["flat"].data
    assert _hot_count(unscaled, hot) >= 15
    residual_scaled = np.median(np.abs(out[hot] - np.median(out)))
    residual_unscaled = np.median(np.abs(unscaled[hot] - np.median(unscaled)))
    assert residual_scaled * 2 < residual_unscaled          # measured 15 against 36 ADU


def test_dark_with_bias_inside_and_no_bias(setup, tmp_path):
    """A dark that still holds the bias works alone at its own exposure; at another it is unscaled, said."""
    cam = setup["cam"]
    paths = [write(cam, tmp_path / f"d{i}.fits", 900 + i, "dark", 60.0) for i in range(5)]
    raw_dark = build_master_dark(paths)
    assert not raw_dark.bias_subtracted
    _, raw, meta = _light(setup, "l60.fits", seed=9)
    out, record = calibrate_light(raw, meta, dark=raw_dark, flat=setup["flat"])
    assert record.warnings == [] and record.bias is None   # no bias needed
    # bias gone: what is left is the sky, 120 e- at the centre times the flat's median (0.89)
    assert abs(np.median(out) - 120 * 0.89) < 8
    _, raw, meta = _light(setup, "l30.fits", exposure=30.0, seed=10)
    out, record = calibrate_light(raw, meta, dark=raw_dark, flat=setup["flat"])
    assert any("unscaled" in w for w in record.warnings)
    assert any(w == "no master bias given" for w in record.warnings)
    with pytest.raises(CalibrationError, match="unscaled"):
        calibrate_light(raw, meta, dark=raw_dark, flat=setup["flat"], strict=True)
    with pytest.raises(CalibrationError, match="master bias is needed"):
        calibrate_light(raw, meta, dark=setup["dark"])   # a bias-subtracted dark without its bias


def test_missing_masters_are_reported_never_skipped(setup):
    _, raw, meta = _light(setup, "lonely.fits", seed=11)
    out, record = calibrate_light(raw, meta)
    assert set(record.warnings) == {"no master bias given", "no master dark given", "no master flat given"}
    np.testing.assert_array_equal(out, raw.astype(np.float32))
    with pytest.raises(CalibrationError, match="no master flat"):
        calibrate_light(raw, meta, bias=setup["bias"], dark=setup["dark"], strict=True)
    with pytest.raises(CalibrationError, match="is \\(160, 200\\)"):
        calibrate_light(raw[:100], meta, bias=setup["bias"])


def _as(master, **meta_changes):
    changed = replace(master, meta=replace(master.meta, **meta_changes))
    return changed


def test_select_masters_by_keys_temperature_date_and_exposure(setup):
    bias, dark, flat = setup["bias"], setup["dark"], setup["flat"]
    when = datetime(2024, 9, 1, 21)
    library = [
        bias, _as(bias, set_temp_c=-20.0), _as(bias, gain=200),
        dark, _as(dark, exposure_s=30.0), _as(dark, set_temp_c=-11.0, exposure_s=60.0),
        _as(dark, set_temp_c=-20.0),
        flat, _as(flat, filter_name="R"), _as(flat, date_obs=datetime(2024, 8, 1)),
        _as(flat, binning_x=2, binning_y=2),
    ]
    light = normalize_header(fits.getheader(write(setup["cam"], setup["tmp"] / "sel.fits", 1, "light", 60.0)))
    assert light.date_obs.replace(tzinfo=None) == when
    choice = select_masters(light, library)
    assert choice.bias is bias and choice.dark is dark and choice.flat is flat and choice.warnings == []
    # 45 s: no dark of that exposure; the nearest (log) exposure is scaled: 60 s
    choice = select_masters(replace(light, exposure_s=45.0), library)
    assert choice.dark.meta.exposure_s == 60.0 and choice.dark.meta.set_temp_c == -10.0
    choice = select_masters(replace(light, exposure_s=20.0), library)
    assert choice.dark.meta.exposure_s == 30.0
    # no bias at -30 C: no dark either (tolerance 2 C), and no Ha flat; each said
    choice = select_masters(replace(light, set_temp_c=-30.0, filter_name="Ha"), library)
    assert choice.bias is choice.dark is choice.flat is None
    assert [w.split(" (")[0] for w in choice.warnings] == ["no matching master bias", "no matching master dark",
                                                           "no matching master flat"]
    # darks but no bias: the nearest-date dark unscaled, with a warning
    choice = select_masters(replace(light, exposure_s=45.0), [m for m in library if m.kind != "bias"])
    assert choice.dark is not None and any("unscaled" in w for w in choice.warnings)
    # a master of another size is never chosen
    assert select_masters(light, library, shape=(80, 100)).bias is None


def test_library_files_and_calibrated_output(setup, tmp_path):
    lib = tmp_path / "lib"
    for kind in ("bias", "dark", "flat"):
        write_master(replace(setup[kind]), lib / f"master_{kind}.fits")
    (lib / "notes.fits").write_text("not FITS")
    light_path = write(setup["cam"], tmp_path / "l.fits", 3, "light", 60.0)
    (lib / "light.fits").write_bytes(light_path.read_bytes())   # a light is not a master
    masters, skipped = load_library(lib)
    assert sorted(m.kind for m in masters) == ["bias", "dark", "flat"]
    assert {p.name for p, _ in skipped} == {"notes.fits", "light.fits"}
    header, data = read_fits(light_path)
    meta = normalize_header(header)
    choice = select_masters(meta, masters)
    out, record = calibrate_light(data, meta, bias=choice.bias, dark=choice.dark, flat=choice.flat)
    path = write_calibrated(tmp_path / "out" / "l_cal.fits", out, header, record, "l.fits")
    written = fits.getheader(path)
    assert written["CALSTAT"] == "BDF" and written["FLATFILE"] == "master_flat.fits"
    assert written["BITPIX"] == -32 and written["OBJECT"] == "Field" and "BZERO" not in written
    assert "calibrated from l.fits" in [str(h) for h in written["HISTORY"]]


def test_fix_bad_pixels_uses_good_neighbours():
    data = np.arange(25, dtype=np.float32).reshape(5, 5)
    bad = np.zeros((5, 5), bool)
    bad[2, 2] = bad[2, 3] = bad[0, 0] = True
    data[2, 2] = data[2, 3] = data[0, 0] = 1e6
    assert fix_bad_pixels(data, bad) == 3
    assert data[2, 2] == np.median([6, 7, 8, 11, 16, 17, 18])
    assert data[0, 0] == np.median([1, 5, 6])
    assert fix_bad_pixels(data, np.zeros((5, 5), bool)) == 0


def test_bias_only_weak_flat_pixels_and_unknown_keys(setup, tmp_path):
    _, raw, meta = _light(setup, "bias_only.fits", seed=12)
    flat = setup["flat"]
    holed = replace(flat, data=flat.data.copy())
    holed.data[:2, :3] = 0.0   # a dust shadow gone black
    out, record = calibrate_light(raw, meta, bias=setup["bias"], flat=holed)
    assert record.steps[0] == "bias master bias subtracted" and "no master dark given" in record.warnings
    assert "6 pixels where the flat is below 0.05 were not flat-fielded" in record.warnings
    assert np.isfinite(out).all()
    # a master without camera or date still matches (unknown on one side), and ranks after dated ones
    anonymous = _as(setup["bias"], camera=None, date_obs=None)
    assert select_masters(meta, [anonymous]).bias is anonymous
    assert select_masters(meta, [anonymous, setup["bias"]]).bias is setup["bias"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "readme.txt").write_text("not looked at")
    assert load_library(tmp_path) == ([], [])
