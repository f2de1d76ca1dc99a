"""``obsy process masters|calibrate|stack`` on temporary files."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from master.processing.cli import process_group

from .test_processing_data import calibration_set, camera, write


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    cam = camera()
    raw = tmp / "raw"
    calibration_set(cam, raw, n=5)
    for i in range(5):   # darks of a second exposure, and dark-flats for the flats
        write(cam, raw / f"dark_120s_{i}.fits", 700 + i, "dark", 120.0)
    (raw / "readme.fits").write_text("this is not an image")
    write(cam, raw / "stray_light.fits", 1, "light", 60.0)
    lights = tmp / "lights"
    lights.mkdir()
    paths = [write(cam, lights / f"light_{i}.fits", 60 + i, "light", 60.0, offset_px=(2.0 * i, -1.5 * i))
             for i in range(4)]
    return dict(tmp=tmp, raw=raw, lights=paths)


def run(*args):
    result = CliRunner().invoke(process_group, [str(a) for a in args], catch_exceptions=False)
    return result


def test_masters_from_a_mixed_folder(files):
    out = files["tmp"] / "masters"
    result = run("masters", files["raw"], "--out", out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "master_bias_OBSY-Simulator-CCD_bin1x1_g100_o50_-10C.fits",
        "master_dark_OBSY-Simulator-CCD_bin1x1_g100_o50_-10C_120s.fits",
        "master_dark_OBSY-Simulator-CCD_bin1x1_g100_o50_-10C_60s.fits",
        "master_flat_OBSY-Simulator-CCD_bin1x1_g100_o50_L.fits",
    ]
    assert "rejected" in result.output and "readme.fits: not a FITS file" in result.output
    assert "stray_light.fits: not a calibration frame (type light)" in result.output
    assert "4 masters written" in result.output
    flat = fits.getheader(out / names[-1])
    assert flat["NCOMBINE"] == 5 and flat["BIASFILE"].startswith("master_bias")
    assert flat["DARKFILE"].startswith("master_dark") and "60s" in flat["DARKFILE"]   # nearest exposure


def test_calibrate_with_a_library_and_with_explicit_masters(files):
    masters = files["tmp"] / "masters"
    if not masters.exists():
        run("masters", files["raw"], "--out", masters)
    out = files["tmp"] / "calibrated"
    junk = files["raw"] / "readme.fits"
    dark_frame = files["raw"] / "dark_60s_00.fits"
    result = run("calibrate", *files["lights"][:2], junk, dark_frame, "--masters", masters, "--out", out)
    assert result.exit_code == 0, result.output
    assert "2 calibrated, 2 rejected" in result.output
    assert "readme.fits: not a FITS file" in result.output
    assert "not a light frame (type dark)" in result.output
    header = fits.getheader(out / "light_0_cal.fits")
    assert header["CALSTAT"] == "BDF" and header["DARKFILE"].endswith("60s.fits")
    # explicit masters, no flat: calibrated, with the missing flat said
    bias = next(masters.glob("master_bias*"))
    dark = next(masters.glob("master_dark*60s.fits"))
    result = run("calibrate", files["lights"][0], "--bias", bias, "--dark", dark, "--out", files["tmp"] / "c2")
    assert result.exit_code == 0 and "warning: no master flat given" in result.output
    assert fits.getheader(files["tmp"] / "c2" / "light_0_cal.fits")["CALSTAT"] == "BD"
    result = run("calibrate", files["lights"][0], "--bias", bias, "--dark", dark, "--strict", "--out",
                 files["tmp"] / "c3")
    assert result.exit_code == 1 and "no light could be calibrated" in result.output
    result = run("calibrate", files["lights"][0], "--out", files["tmp"] / "c4")
    assert result.exit_code == 2 and "--masters" in result.output
    result = run("calibrate", files["lights"][0], "--flat", bias, "--out", files["tmp"] / "c4")
    assert result.exit_code == 1 and "is a master bias, not a flat" in result.output
    result = run("calibrate", files["lights"][0], "--flat", junk, "--out", files["tmp"] / "c4")
    assert result.exit_code == 1 and "not a FITS file" in result.output


def test_stack_command(files):
    out = files["tmp"] / "stack.fits"
    junk = files["raw"] / "readme.fits"
    result = run("stack", *files["lights"], junk, "--out", out, "--method", "median", "--sigma", "2.5")
    assert result.exit_code == 0, result.output
    assert "stacked 4 frames" in result.output and "readme.fits: not a FITS file" in result.output
    with fits.open(out) as hdul:
        assert hdul[0].header["NCOMBINE"] == 4 and hdul[0].header["COMBMETH"] == "median"
        assert np.isfinite(hdul[0].data[20:-20, 20:-20]).all()
    result = run("stack", junk, "--out", out)
    assert result.exit_code == 1 and "no frame could be stacked" in result.output
    result = run("stack", *files["lights"][:2], "--out", out, "--reference", 5)
    assert result.exit_code == 2
    result = run("stack", *files["lights"][:2], "--out", out, "--no-register", "--weights", "noise", "--sigma", 0)
    assert result.exit_code == 0, result.output


def test_masters_with_dark_flats_and_failures(files, tmp_path):
    cam = camera()
    for i in range(3):
        path = write(cam, tmp_path / f"darkflat_{i}.fits", 850 + i, "dark", 2.0)
        with fits.open(path, mode="update") as hdul:
            hdul[0].header["IMAGETYP"] = "Dark Flat"
    flats = sorted(files["raw"].glob("flat_*.fits"))
    result = run("masters", tmp_path, *flats, *sorted(files["raw"].glob("bias_*.fits")), "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    flat = fits.getheader(next((tmp_path / "m").glob("master_flat*")))
    assert flat["DARKFILE"].startswith("master_dark_flat")
    # a flat too bright for the bias in use: that master fails, the others are written
    dim = write(camera(flat_level=0.0), tmp_path / "dim_flat.fits", 1, "flat", 2.0, filter_name="R")
    result = run("masters", dim, *sorted(files["raw"].glob("bias_*.fits")), "--out", tmp_path / "m2")
    assert result.exit_code == 0 and "failed master flat of 1 frames" in result.output
    result = run("masters", files["raw"] / "readme.fits", "--out", tmp_path / "m3")
    assert result.exit_code == 1 and "no master could be built" in result.output


def test_calibrate_skips_bad_files_in_the_library_and_odd_names(files, tmp_path):
    masters = files["tmp"] / "masters"
    if not masters.exists():
        run("masters", files["raw"], "--out", masters)
    library = tmp_path / "lib"
    library.mkdir()
    for path in masters.iterdir():
        (library / path.name).write_bytes(path.read_bytes())
    (library / "broken.fits").write_text("x")
    odd = tmp_path / "light.dat"
    odd.write_bytes(files["lights"][0].read_bytes())
    result = run("calibrate", odd, "--masters", library, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "skipped master" in result.output and "broken.fits" in result.output
    assert (tmp_path / "out" / "light_cal.fits").exists()
