"""The FITS viewer in headless Chromium on a generated 4000x3000 frame with stars and a WCS."""
from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest
from astropy.wcs import WCS
from PIL import Image

from tests.e2e.test_portal import loaded_images, log_in
from tests.unit.test_grading import star_field
from tests.unit.test_viewer_pyramid import fits_bytes, tan_header

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 4000, 3000
KNOWN = (2345, 1234)  # 0-based column, row of a pixel with a value found nowhere else
KNOWN_VALUE = 54321


def real_frame(portal, seed: int, **fields) -> tuple[int, str]:
    data = star_field(shape=(HEIGHT, WIDTH), n=200, seed=seed)
    data[KNOWN[1], KNOWN[0]] = KNOWN_VALUE
    frame_id = portal.add_frame(width=WIDTH, height=HEIGHT, **fields)
    with portal.services.sessions() as session:
        from master.models import Frame
        key = session.get(Frame, frame_id).key
    portal.services.store.put_bytes(key, fits_bytes(data, tan_header(WIDTH, HEIGHT)))
    return frame_id, key


def wait_until(check, timeout_s: float = 10):
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def tile_levels(page) -> set[str]:
    return set(page.eval_on_selector_all("#v-layer img:not(.v-base)", "imgs => imgs.map(i => i.dataset.level)"))


def viewport_pixels(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator("#v-viewport").screenshot())).convert("L"), dtype=float)


def screen_point(page, x: int, y: int) -> tuple[float, float]:
    """Where the centre of image pixel (x, y) is on the page, from the view the viewer reports."""
    viewport = page.locator("#v-viewport")
    box = viewport.bounding_box()
    scale, ox, oy = (float(viewport.get_attribute(name)) for name in ("data-scale", "data-ox", "data-oy"))
    return box["x"] + (x + 0.5 - ox) * scale, box["y"] + (y + 0.5 - oy) * scale


def test_stretch_zoom_readout_stars_and_blink(page, portal):
    frame_id, _ = real_frame(portal, seed=11, night=None, filter_name="R")
    second_id, second_key = real_frame(portal, seed=12, night=None, filter_name="R")

    page.goto(f"/frames/{frame_id}")
    log_in(page, portal)
    page.wait_for_url(f"{portal.base_url}/frames/{frame_id}")
    page.click("text=Open in viewer")
    page.wait_for_url(f"{portal.base_url}/frames/{frame_id}/view")
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    # 4000x3000 px in a ~1100x700 px viewport: the coarsest level whose pixels are not above a screen pixel.
    scale = float(page.locator("#v-viewport").get_attribute("data-scale"))
    assert 0.2 < scale < 0.3
    assert tile_levels(page) == {str(math.floor(math.log2(1 / scale)))} == {"2"}

    # A stretch change re-renders: log lifts the sky.
    linear = viewport_pixels(page)
    page.select_option("#v-stretch", "log")
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    assert all("stretch=log" in src for src in page.eval_on_selector_all("#v-layer img", "i => i.map(x => x.src)"))
    logged = viewport_pixels(page)
    assert logged.mean() > linear.mean() + 20

    # Black/white from the slider change the tiles too, and the histogram is redrawn with them.
    before = page.input_value("#v-black")
    page.locator("#v-black-range").fill("600")
    wait_until(lambda: page.input_value("#v-black") != before)
    assert page.input_value("#v-levels") == "manual"
    page.wait_for_timeout(300)
    assert all(f"black={page.input_value('#v-black')}" in src
               for src in page.eval_on_selector_all("#v-layer img", "i => i.map(x => x.src)"))
    page.select_option("#v-levels", "zscale")

    # Zooming to 1:1 loads full-resolution tiles.
    page.click("#v-one")
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    assert tile_levels(page) == {"0"}
    assert page.locator("#v-viewport").get_attribute("data-level") == "0"

    # Dragging pans: the known pixel, dragged to the middle, stays there while zooming in further.
    box = page.locator("#v-viewport").bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*screen_point(page, *KNOWN))
    page.mouse.down()
    page.mouse.move(*middle, steps=5)
    page.mouse.up()
    assert screen_point(page, *KNOWN) == pytest.approx(middle, abs=1.0)
    page.click("#v-zoom-in")
    page.click("#v-zoom-in")
    assert screen_point(page, *KNOWN) == pytest.approx(middle, abs=1.0)
    assert float(page.locator("#v-viewport").get_attribute("data-scale")) == pytest.approx(1.5625)

    # The readout under the cursor is the value of that pixel, with its sky position.
    x, y = screen_point(page, *KNOWN)
    page.mouse.move(x, y)
    wait_until(lambda: page.inner_text("#v-value") == str(KNOWN_VALUE))
    assert (page.inner_text("#v-x"), page.inner_text("#v-y")) == (str(KNOWN[0] + 1), str(KNOWN[1] + 1))
    sky = WCS(tan_header(WIDTH, HEIGHT)).pixel_to_world(*KNOWN)
    root = page.locator("#viewer")
    assert float(root.get_attribute("data-ra")) == pytest.approx(sky.ra.deg, abs=1e-7)
    assert float(root.get_attribute("data-dec")) == pytest.approx(sky.dec.deg, abs=1e-7)
    page.mouse.move(x + 40, y)  # a neighbour is not the known pixel
    wait_until(lambda: page.inner_text("#v-value") != str(KNOWN_VALUE))

    # Stars with their HFR.
    page.click("#v-fit")
    page.check("#v-stars")
    wait_until(lambda: page.inner_text("#v-star-count") == "200 stars")
    assert page.locator("#v-overlay circle").count() == 200
    assert page.locator("#v-overlay circle title").first.text_content().startswith("HFR ")
    page.screenshot(path="/tmp/obsy-viewer.png")

    # Blink with the next frame of the sequence, keeping the view.
    assert page.inner_text("#v-position") == "1 of 2"
    shown = page.inner_text("#v-showing")
    scale = page.locator("#v-viewport").get_attribute("data-scale")
    page.click("#v-blink")
    wait_until(lambda: page.inner_text("#v-showing") != shown)
    assert page.get_attribute("#v-blink", "aria-pressed") == "true"
    assert all(src.split("?")[0].endswith(second_key)
               for src in page.eval_on_selector_all("#v-layer img", "i => i.map(x => x.src)"))
    wait_until(lambda: page.inner_text("#v-showing") == shown)  # and back
    assert page.locator("#v-viewport").get_attribute("data-scale") == scale
    page.click("#v-blink")
    assert page.get_attribute("#v-blink", "aria-pressed") == "false"

    with page.expect_download() as download:
        page.click("text=Download FITS")
    assert download.value.suggested_filename.endswith(".fits")

    # Stepping to the next frame keeps the stretch and the view (they travel in the address).
    page.click("#v-next")
    page.wait_for_url(f"{portal.base_url}/frames/{second_id}/view#*")
    assert page.input_value("#v-stretch") == "log"
    assert page.inner_text("#v-position") == "2 of 2"
    assert page.locator("#v-viewport").get_attribute("data-scale").startswith(scale[:4])


def test_a_corrupt_frame_shows_a_page_that_says_so(browser, portal):
    """Its own context: the page is answered with 422, which Chromium reports on the console (and the
    shared ``page`` fixture fails on any console error); every other message still fails the test."""
    frame_id = portal.add_frame()  # the portal fixture stores a lone SIMPLE card: not a usable FITS file
    context = browser.new_context(base_url=portal.base_url)
    try:
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
        page.goto("/login")
        log_in(page, portal)
        page.wait_for_url(f"{portal.base_url}/frames")
        response = page.goto(f"/frames/{frame_id}/view")
        assert response.status == 422
        assert page.locator("h1").inner_text() == "This file cannot be shown"
        assert page.locator(".v-problem").inner_text() == \
            "truncated file: the header of HDU 0 ends before its END card"
        page.click("text=Back to the frame")
        page.wait_for_url(f"{portal.base_url}/frames/{frame_id}")
        assert messages == ["Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    finally:
        context.close()


def colour_frame(portal, seed: int = 21) -> tuple[int, str]:
    """A 3x900x1200 cube: a grey star field in all planes, a pure-red block and a pixel with known R, G, B."""
    field = star_field(shape=(900, 1200), n=60, seed=seed).astype(np.float32)
    cube = np.stack([field, field, field])
    cube[0, 300:500, 600:900] = 60000.0
    cube[:, COLOUR_KNOWN[1], COLOUR_KNOWN[0]] = COLOUR_KNOWN_RGB
    frame_id = portal.add_frame(width=1200, height=900, night=None, filter_name=None)
    with portal.services.sessions() as session:
        from master.models import Frame
        key = session.get(Frame, frame_id).key
    portal.services.store.put_bytes(key, fits_bytes(cube, tan_header(1200, 900)))
    return frame_id, key


COLOUR_KNOWN = (345, 678)
COLOUR_KNOWN_RGB = (11111.0, 22222.0, 33333.0)


def test_a_colour_cube_shows_in_colour_with_an_rgb_readout(page, portal):
    frame_id, _ = colour_frame(portal)
    _, second_key = colour_frame(portal, seed=22)
    page.goto(f"/frames/{frame_id}/view")
    log_in(page, portal)
    page.wait_for_url(f"{portal.base_url}/frames/{frame_id}/view")
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    assert page.input_value("#v-channels") == "linked"

    # The red block is red on screen: sample its middle where the viewer says it is.
    box = page.locator("#v-viewport").bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#v-viewport").screenshot())).convert("RGB"), dtype=int)

    def on_screen(x, y):
        sx, sy = screen_point(page, x, y)
        return shot[round(sy - box["y"]), round(sx - box["x"])]

    red = on_screen(750, 400)
    sky = on_screen(100, 100)
    assert abs(sky[0] - sky[1]) < 30 and abs(sky[1] - sky[2]) < 30 and sky[0] < 200, sky  # a grey sky stays grey
    # z-scale puts the sky mid-grey: the block is saturated red over green and blue at the sky's level.
    assert red[0] == 255 and abs(red[1] - sky[1]) < 40 and abs(red[2] - sky[2]) < 40, (red, sky)

    # Per channel levels: the tiles ask for three points each; the histogram has three channels.
    page.select_option("#v-channels", "per")
    wait_until(lambda: all("black=" in src and "%2C" in src.split("black=")[1].split("&")[0]
                           for src in page.eval_on_selector_all("#v-layer img", "i => i.map(x => x.src)")))
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    histogram = np.asarray(Image.open(io.BytesIO(page.locator("#v-histogram").screenshot())).convert("RGB"), dtype=int)
    r, g, b = histogram[..., 0], histogram[..., 1], histogram[..., 2]
    # Three translucent channel histograms over each other (blue drawn last), not the grey bars of a grey frame
    # (crowded at the left here: the red block stretches the range);
    # red's points are far right of green's and blue's (the red block).
    assert ((b > r + 60) & (b > g + 60)).sum() > 50  # grey bars (#7c8590) give none
    assert ((r > g + 60) & (r > b + 60)).any()

    # The readout under the cursor is the R, G, B of that pixel, with its sky position.
    page.click("#v-one")
    page.click("#v-zoom-in")
    page.click("#v-zoom-in")
    x, y = screen_point(page, *COLOUR_KNOWN)
    if not (box["x"] < x < box["x"] + box["width"] and box["y"] < y < box["y"] + box["height"]):
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 - (x - box["x"] - box["width"] / 2),
                        box["y"] + box["height"] / 2 - (y - box["y"] - box["height"] / 2), steps=5)
        page.mouse.up()
        x, y = screen_point(page, *COLOUR_KNOWN)
    page.mouse.move(x, y)
    wait_until(lambda: page.inner_text("#v-value") == "11111, 22222, 33333")
    assert (page.inner_text("#v-x"), page.inner_text("#v-y")) == (str(COLOUR_KNOWN[0] + 1), str(COLOUR_KNOWN[1] + 1))
    sky = WCS(tan_header(1200, 900)).pixel_to_world(*COLOUR_KNOWN)
    assert float(page.locator("#viewer").get_attribute("data-ra")) == pytest.approx(sky.ra.deg, abs=1e-7)

    # Stars come from the sum of the planes; the download is the cube.
    page.click("#v-fit")
    page.check("#v-stars")
    wait_until(lambda: page.inner_text("#v-star-count").endswith(" stars"))
    assert int(page.inner_text("#v-star-count").split()[0]) >= 50
    page.screenshot(path="/tmp/obsy-viewer-colour.png")

    # Blink with the next colour frame of the sequence: its tiles, the same per-channel levelling.
    shown = page.inner_text("#v-showing")
    page.click("#v-blink")
    wait_until(lambda: page.inner_text("#v-showing") != shown)
    sources = page.eval_on_selector_all("#v-layer img", "i => i.map(x => x.src)")
    assert all(src.split("?")[0].endswith(second_key) and "%2C" in src for src in sources)
    page.click("#v-blink")
    assert page.get_attribute("#v-blink", "aria-pressed") == "false"
    with page.expect_download() as download:
        page.click("text=Download FITS")
    assert download.value.suggested_filename.endswith(".fits")
