"""Sky model geometry, its TOML form, the sky-circle estimate and reading frames from disk."""
from __future__ import annotations

import tomllib

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from node_observatory.clouds import ImageReadError, SkyModel, estimate_sky_circle, load_image
from tests.unit.allsky_synth import CX, CY, RADIUS, make_sky, save_fits16, save_jpeg


def test_equidistant_projection_and_orientation():
    model = SkyModel(100.0, 80.0, 90.0, orientation_deg=30.0)
    alt, az = model.polar(np.array([80.0, 80.0 - 45.0, 80.0]), np.array([100.0, 100.0, 100.0 - 90.0]))
    assert alt.tolist() == pytest.approx([90.0, 45.0, 0.0])
    assert az[1] == pytest.approx(30.0)          # image "up" points to the orientation
    assert az[2] == pytest.approx(120.0)         # image "left" is 90 deg further (east, looking up)
    for a, z in ((60.0, 10.0), (25.0, 200.0), (5.0, 359.0)):
        x, y = model.pixel_of(a, z)
        back_alt, back_az = model.polar(np.array(y), np.array(x))
        assert float(back_alt) == pytest.approx(a) and float(back_az) == pytest.approx(z)


def test_toml_round_trip_with_a_mask(tmp_path):
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[10:50, 10:70] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    model = SkyModel(40.5, 30.25, 28.0, orientation_deg=12.0)
    (tmp_path / "cam.toml").write_text(model.to_toml(mask_path="mask.png"))
    loaded = SkyModel.from_toml(tmp_path / "cam.toml")
    assert (loaded.cx, loaded.cy, loaded.radius, loaded.orientation_deg) == \
        pytest.approx((40.5, 30.2, 28.0, 12.0), abs=0.06)
    assert loaded.mask.shape == (60, 80) and loaded.mask[30, 40] and not loaded.mask[5, 5]
    assert tomllib.loads(model.to_toml())["allsky"]["radius"] == 28.0


def test_toml_without_radius_is_refused(tmp_path):
    (tmp_path / "cam.toml").write_text("[allsky]\ncenter_x = 1\ncenter_y = 2\n")
    with pytest.raises(ValueError, match="radius"):
        SkyModel.from_toml(tmp_path / "cam.toml")


def test_circle_from_several_frames_and_from_fits(tmp_path):
    frames = [make_sky(seed=s, coverage=c)[0] for s, c in ((21, 0.0), (22, 0.3))]
    circle = estimate_sky_circle([load_image(save_fits16(f, tmp_path / f"f{i}.fits")) for i, f in enumerate(frames)])
    assert circle.method == "fit"
    assert abs(circle.cx - CX) < 3 and abs(circle.cy - CY) < 3 and abs(circle.radius - RADIUS) < 4
    assert circle.mask.shape == frames[0].shape


def test_a_disc_filling_the_frame_falls_back_to_the_frame():
    image = np.full((200, 300), 40.0) + np.random.default_rng(3).normal(0, 2, (200, 300))
    circle = estimate_sky_circle([image])
    assert circle.method == "frame" and (circle.cx, circle.cy) == (149.5, 99.5)
    assert circle.mask.mean() > 0.9


def test_frames_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="same size"):
        estimate_sky_circle([np.zeros((50, 60)), np.zeros((60, 50))])


def test_reads_colour_jpeg_png16_and_fits_variants(tmp_path):
    sky, _ = make_sky(seed=9)
    rgb = np.stack([sky, sky * 0.9, sky * 1.1], axis=2).clip(0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=90)
    Image.fromarray((sky * 256).astype(np.uint16)).save(tmp_path / "m16.png")
    fits.PrimaryHDU((sky / 255).astype(np.float32)).writeto(tmp_path / "f.fits")
    cube_hdu = fits.ImageHDU(np.stack([sky] * 3).astype(np.uint8))
    fits.HDUList([fits.PrimaryHDU(), cube_hdu]).writeto(tmp_path / "cube.fits")
    jpg, png, flt, cube = (load_image(tmp_path / n) for n in ("c.jpg", "m16.png", "f.fits", "cube.fits"))
    assert jpg.data.shape == sky.shape and jpg.saturation == 255
    assert png.saturation == 65535 and png.data.max() > 255
    assert flt.saturation == 1.0 and not flt.integer
    assert cube.data.shape == sky.shape and cube.saturation == 255


@pytest.mark.parametrize("name, content, words", [
    ("notes.jpg", b"this is not an image", "not an image"),
    ("empty.fits", None, "no 2-D image"),
    ("missing.png", "missing", "no such file"),
])
def test_unreadable_files_raise_a_clear_error(tmp_path, name, content, words):
    path = tmp_path / name
    if content is None:
        fits.PrimaryHDU().writeto(path)
    elif content != "missing":
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=words) as info:
        load_image(path)
    assert name in str(info.value)


def test_float_fits_holding_whole_numbers_reads_as_integers(tmp_path):
    fits.PrimaryHDU(np.arange(64 * 64, dtype=np.float32).reshape(64, 64) % 4000).writeto(tmp_path / "w.fits")
    image = load_image(tmp_path / "w.fits")
    assert image.integer and image.saturation == 4095


def test_tiny_and_oddly_shaped_images_are_refused(tmp_path):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "tiny.png")
    fits.PrimaryHDU(np.zeros((5, 40, 40), np.uint8)).writeto(tmp_path / "cube5.fits")
    with pytest.raises(ImageReadError, match="too small"):
        load_image(tmp_path / "tiny.png")
    with pytest.raises(ImageReadError, match="no 2-D image"):
        load_image(tmp_path / "cube5.fits")


def test_pillow_modes_and_odd_fits_layouts(tmp_path):
    sky, _ = make_sky(seed=23)
    Image.fromarray(sky.astype(np.uint8)).convert("P").save(tmp_path / "p.png")
    Image.fromarray((sky * 1000).astype(np.int32)).save(tmp_path / "i.tiff")
    Image.fromarray(sky.astype(np.float32)).save(tmp_path / "f.tiff")
    with_nan = sky.astype(np.float32)
    with_nan[:5, :5] = np.nan
    fits.PrimaryHDU(with_nan[None]).writeto(tmp_path / "nan.fits")
    assert load_image(tmp_path / "p.png").saturation == 255
    wide = load_image(tmp_path / "i.tiff")
    assert wide.integer and wide.data.max() > 65535
    assert not load_image(tmp_path / "f.tiff").integer
    nan = load_image(tmp_path / "nan.fits")
    assert nan.data.shape == sky.shape and np.isfinite(nan.data).all()


def test_truncated_jpeg_is_a_clear_error(tmp_path):
    sky, _ = make_sky(seed=24)
    whole = tmp_path / "whole.jpg"
    save_jpeg(sky, whole)
    (tmp_path / "cut.jpg").write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(ImageReadError, match="cut.jpg: cannot read as an image"):
        load_image(tmp_path / "cut.jpg")


def test_saturation_of_wide_integer_frames():
    from node_observatory.clouds.imageio import _saturation

    big = np.array([[0, 300000]], dtype=np.uint32)
    assert _saturation(big, big.astype(np.float32)) == (float(2 ** 32 - 1), True)


def test_circle_estimate_gives_up_cleanly():
    with pytest.raises(ValueError, match="at least one"):
        estimate_sky_circle([])
    assert estimate_sky_circle([np.zeros((100, 130))]).method == "frame"       # nothing bright
    spot = np.zeros((101, 131))
    spot[:, :80] = 100.0                              # a straight edge is no horizon circle
    circle = estimate_sky_circle([spot])
    assert circle.method == "frame" and circle.mask.shape == (101, 131) and circle.mask[50, 65]


def test_toml_with_a_bad_radius_is_refused(tmp_path):
    (tmp_path / "cam.toml").write_text("[allsky]\ncenter_x = 1\ncenter_y = 2\nradius = 0\n")
    with pytest.raises(ValueError, match="radius must be > 0"):
        SkyModel.from_toml(tmp_path / "cam.toml")
