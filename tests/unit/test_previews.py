"""make_previews: sizes, valid 8-bit PNGs, a stretch that shows a sky frame."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from master.previews import PREVIEW_MAX, THUMB_MAX, make_previews

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sky(shape, seed=0, dtype=np.uint16):
    rng = np.random.default_rng(seed)
    image = rng.normal(1000, 10, shape)
    ys, xs = rng.integers(0, shape[0], 200), rng.integers(0, shape[1], 200)
    image[ys, xs] += 20000  # stars enough to set the white point
    return image.astype(dtype)


def decode(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    Image.open(io.BytesIO(png)).verify()
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("shape, thumb_size, preview_size", [
    ((3072, 4096), (256, 192), (1024, 768)),     # (width, height) as Pillow reports
    ((2000, 3000), (250, 166), (1000, 666)),
    ((1920, 1080), (135, 240), (540, 960)),
    ((600, 800), (200, 150), (800, 600)),
    ((100, 80), (80, 100), (80, 100)),
])
def test_sizes(shape, thumb_size, preview_size):
    thumb, preview = make_previews(sky(shape))
    thumb_image, preview_image = decode(thumb), decode(preview)
    assert thumb_image.size == thumb_size and preview_image.size == preview_size
    assert max(thumb_image.size) <= THUMB_MAX and max(preview_image.size) <= PREVIEW_MAX
    assert thumb_image.mode == preview_image.mode == "L"


def test_stretch_puts_the_sky_in_the_dark_greys_and_stars_in_white():
    _, preview = make_previews(sky((600, 800)))
    pixels = np.asarray(decode(preview))
    assert 40 <= np.median(pixels) <= 90
    assert pixels.max() == 255
    assert pixels.min() == 0


def test_thumbnail_and_preview_share_the_stretch():
    thumb, preview = make_previews(sky((1024, 1024)))
    assert abs(float(np.median(np.asarray(decode(thumb)))) - float(np.median(np.asarray(decode(preview))))) < 25


@pytest.mark.parametrize("data", [
    np.zeros((50, 60), dtype=np.uint16),                     # flat
    np.full((50, 60), np.nan, dtype=np.float32),             # all NaN
    np.ones((1, 1), dtype=np.float64),
    sky((40, 7000), dtype=np.float32),                       # very wide
    sky((7000, 3), dtype=np.int16),                          # very tall and narrow
])
def test_odd_inputs_still_give_pngs(data):
    thumb, preview = make_previews(data)
    decode(thumb), decode(preview)


def test_nan_pixels_are_drawn_black():
    data = sky((100, 100), dtype=np.float32)
    data[:10] = np.nan
    pixels = np.asarray(decode(make_previews(data)[1]))
    assert (pixels[:10] == 0).all()


def test_a_cube_of_three_planes_is_shown_in_colour_others_as_mono():
    thumb, preview = make_previews(np.stack([sky((300, 400), seed=s) for s in (1, 2, 3)]))
    assert decode(preview).size == (400, 300) and decode(thumb).mode == "RGB"
    thumb, preview = make_previews(np.stack([sky((300, 400), seed=s) for s in (1, 2)]))
    assert decode(preview).size == (400, 300) and decode(thumb).mode == "L"


def test_rejects_non_images():
    with pytest.raises(ValueError):
        make_previews(np.zeros(5))


def test_infinite_pixels_do_not_break_the_stretch():
    data = sky((100, 100), dtype=np.float32)
    data[50, 50] = np.inf
    pixels = np.asarray(decode(make_previews(data)[1]))
    assert 30 <= np.median(pixels) <= 100
