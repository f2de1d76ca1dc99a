"""Sol'ex reconstruction of a synthetic spectroheliograph scan, and ``obsy science`` on files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner
from PIL import Image
from scipy import ndimage

from master.science.cli import science_group
from master.science.ser import write_ser
from master.science.solex import SolexError, find_spectral_axis, fit_disk_ellipse, reconstruct

RADIUS = 50.0
SPOT = (15.0, -20.0)  # (x along the scan, y along the slit) from the disk centre, px of the slit scale
SQUEEZE = 1.3  # true pixels per frame: the disk is 1.3 times narrower along the scan
SHEAR = 0.12  # slit tilt against the scan


def continuum(n, rows):
    """The true disk (N, slit, 1) as the scan samples it: squeezed along the scan, sheared by the slit tilt."""
    i = np.arange(n)[:, None, None]
    y = np.arange(rows)[None, :, None]
    yy = y - (rows - 1) / 2
    xx = SQUEEZE * (i - (n - 1) / 2) - SHEAR * yy
    r2 = (xx**2 + yy**2) / RADIUS**2
    disk = np.where(r2 < 1, 1000 * (1 - 0.6 * (1 - np.sqrt(np.clip(1 - r2, 0, 1)))), 5.0)
    return disk * (1 - 0.7 * np.exp(-((xx - SPOT[0]) ** 2 + (yy - SPOT[1]) ** 2) / (2 * 3.0**2)))


def scan(n=170, rows=140, waves=48, seed=0) -> np.ndarray:
    """Frames (N, slit, wavelength): a limb-darkened disk with a spot, seen through a curved line."""
    rng = np.random.default_rng(seed)
    y = np.arange(rows)[None, :, None]
    w = np.arange(waves)[None, None, :]
    centre = 22 + 6e-4 * (y - 60.0) ** 2  # the line's "smile"
    frames = continuum(n, rows) * (1 - 0.8 * np.exp(-((w - centre) ** 2) / (2 * 1.8**2)))
    return np.clip(frames + rng.normal(0, 2, frames.shape), 0, 65535).astype(np.uint16)


def spot_position(image: np.ndarray, centre, radius) -> tuple[float, float]:
    smooth = ndimage.gaussian_filter(image, 1.5)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 < (0.85 * radius) ** 2
    k = int(np.argmin(np.where(inside, smooth, np.inf)))
    return xx.flat[k] - centre[0], yy.flat[k] - centre[1]


def test_reconstructs_a_round_disk_with_the_spot_in_place():
    frames = scan()
    assert find_spectral_axis(frames) == 2
    result = reconstruct(frames, (0.0, 6.0))
    np.testing.assert_allclose(result.line.coefficients, [6e-4, -2 * 60 * 6e-4, 22 + 6e-4 * 3600], atol=0.02)
    assert result.line.rms < 0.05
    raw = result.raw_images[0.0]
    assert raw.shape == (140, 170)
    # the line core is sampled without banding: the raw image is the true disk x (1 - depth), to noise
    truth = 0.2 * continuum(170, 140)[:, :, 0].T
    disk = truth > 50
    assert np.sqrt(np.mean((raw[disk] / truth[disk] - 1) ** 2)) < 0.02
    assert result.ellipse.a / result.ellipse.b > 1.25  # squeezed before
    image = result.images[0.0]
    after = fit_disk_ellipse(image)
    assert after.a / after.b < 1.02  # round after
    assert abs(after.cx - result.centre[0]) < 0.5 and abs(after.cy - result.centre[1]) < 0.5
    assert result.scale_x == pytest.approx(SQUEEZE, rel=0.01)
    assert abs(abs(result.shear) - SHEAR) < 0.01
    assert result.radius == pytest.approx(RADIUS, rel=0.03)
    dx, dy = spot_position(image, result.centre, result.radius)
    assert abs(dx - SPOT[0]) <= 1.5 and abs(dy - SPOT[1]) <= 1.5
    # in the wing (6 px off the line) the disk is brighter than in the core
    assert np.median(result.images[6.0][image > 50]) > 2 * np.median(image[image > 50])


def test_wavelength_along_rows_and_errors():
    frames = np.swapaxes(scan(n=120, seed=1), 1, 2)  # (N, wavelength, slit)
    assert find_spectral_axis(frames) == 1
    result = reconstruct(frames, correct=False)
    assert result.images[0.0].shape == (140, 120) and result.ellipse is None
    with pytest.raises(SolexError):
        reconstruct(frames[:5])
    with pytest.raises(SolexError):
        fit_disk_ellipse(np.zeros((50, 50)))


@pytest.fixture(scope="module")
def ser_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("solex") / "sun_scan.ser"
    start = datetime(2024, 6, 1, 9, 30, tzinfo=timezone.utc)
    frames = scan()
    write_ser(path, frames, pixel_depth=12 if frames.max() < 4096 else 16, observer="Tester",
              timestamps=[start + timedelta(milliseconds=20 * i) for i in range(len(frames))])
    return path


def test_cli_ser_info(ser_path):
    result = CliRunner().invoke(science_group, ["ser-info", str(ser_path)])
    assert result.exit_code == 0, result.output
    assert "width: 48" in result.output and "frames: 170" in result.output
    assert "frame_rate_hz: 50.0" in result.output and "timestamps: 170" in result.output
    result = CliRunner().invoke(science_group, ["ser-info", "--json", str(ser_path)])
    assert '"observer": "Tester"' in result.output


def test_cli_solex(ser_path, tmp_path):
    result = CliRunner().invoke(science_group, ["solex", str(ser_path), "--out", str(tmp_path), "--shift", "-6"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sun_scan_m6.fits", "sun_scan_m6.png", "sun_scan_p0.fits", "sun_scan_p0.png"]
    header = fits.getheader(tmp_path / "sun_scan_p0.fits")
    assert header["SOLSHIFT"] == 0.0 and header["SERFILE"] == "sun_scan.ser"
    assert header["DATE-OBS"] == "2024-06-01T09:30:00.000"
    assert header["SOLRAD"] == pytest.approx(RADIUS, rel=0.03)
    assert header["SOLSCALX"] == pytest.approx(SQUEEZE, rel=0.01)
    png = np.asarray(Image.open(tmp_path / "sun_scan_p0.png"))
    assert png.shape == fits.getdata(tmp_path / "sun_scan_p0.fits").shape and png.max() > 30000
    bad = tmp_path / "bad.ser"
    bad.write_bytes(b"nope")
    result = CliRunner().invoke(science_group, ["solex", str(bad), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "too short" in result.output
