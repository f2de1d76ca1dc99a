"""Colour cubes (3 x H x W, as one-shot-colour stacks and RGB previews are written) in the viewer:
their pyramid keeps the planes, tiles are RGB, the readout gives R, G, B, stars come from the plane sum."""
from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from master.viewer import Pyramid
from master.viewer.pyramid import write_pyramid
from tests.unit.test_grading import star_field
from tests.unit.test_viewer_pyramid import fits_bytes, tan_header
from tests.unit.test_web_support import add_frame, make_app
from tests.unit.test_web_viewer import key_of, page_info

WIDTH, HEIGHT = 600, 400
RED = (slice(50, 150), slice(300, 420))     # rows, columns of a region bright in R only
KNOWN = (517, 333)                          # column, row of a pixel whose three values are found nowhere else
KNOWN_RGB = (1234.0, 2345.0, 3456.0)


def colour_cube(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cube = rng.normal(100.0, 2.0, (3, HEIGHT, WIDTH)).astype(np.float32)
    cube[0][RED] = 5000.0
    cube[:, KNOWN[1], KNOWN[0]] = KNOWN_RGB
    return cube


def tile_rgb(client, key: str, query: str = "", level: int = 0, x: int = 0, y: int = 0) -> np.ndarray:
    response = client.get(f"/viewer/tile/{level}/{x}/{y}/{key}?{query}")
    assert response.status_code == 200 and response.mimetype == "image/png", response.data[:200]
    image = Image.open(io.BytesIO(response.data))
    assert image.mode == "RGB"
    return np.asarray(image)


@pytest.fixture
def cubed(services):
    frame_id = add_frame(services, fits=fits_bytes(colour_cube(), tan_header(WIDTH, HEIGHT)))
    return frame_id, key_of(services, frame_id)


def test_the_pyramid_keeps_the_three_planes_at_every_level(tmp_path):
    cube = colour_cube()
    write_pyramid(tmp_path / "p", cube, tan_header(WIDTH, HEIGHT))
    pyramid = Pyramid(tmp_path / "p")
    assert pyramid.colour and (pyramid.width, pyramid.height) == (WIDTH, HEIGHT)
    assert pyramid.meta["levels"] == [[600, 400], [300, 200], [150, 100]]
    assert pyramid.level(1).shape == (3, 200, 300)
    assert np.allclose(pyramid.level(1)[0], cube[0].reshape(200, 2, 300, 2).mean(axis=(1, 3)), atol=1e-3)
    assert pyramid.tile(0, 2, 1).shape == (3, HEIGHT - 256, WIDTH - 512)
    assert pyramid.value(*KNOWN) == list(KNOWN_RGB)
    assert len(pyramid.meta["channel_display"]) == 3 and len(pyramid.meta["channel_histograms"]) == 3
    assert pyramid.meta["channel_link"] == "linked"
    # The linked white point reaches the red region; green's own does not (its plane has no such values).
    assert pyramid.meta["display"]["minmax"][1] == 5000.0
    assert pyramid.meta["channel_display"][1]["minmax"][1] == 2345.0


def test_a_debayered_stack_is_levelled_per_channel_at_first(tmp_path):
    header = tan_header(WIDTH, HEIGHT)
    header["HISTORY"] = "debayered (bilinear) from RGGB at pixel [0, 0]"
    write_pyramid(tmp_path / "p", colour_cube(), header)
    assert Pyramid(tmp_path / "p").meta["channel_link"] == "per"


def test_a_pure_red_region_renders_red_and_the_stretch_changes_it(client, cubed):
    _, key = cubed
    # Tile (1, 0) holds columns 256-511: the red region is its columns 44-163, rows 50-149.
    linear = tile_rgb(client, key, "stretch=linear&black=90&white=6000", x=1).astype(int)
    red = linear[60:140, 60:150]
    assert (red[..., 0] > 200).all() and (red[..., 1] < 10).all() and (red[..., 2] < 10).all()
    sky = linear[180:250, 60:150]
    assert (sky.max(axis=-1) < 30).all()
    log = tile_rgb(client, key, "stretch=log&black=90&white=6000", x=1).astype(int)
    assert log[180:250, 60:150].mean() > sky.mean() + 25  # log lifts the sky in every channel
    assert (log[60:140, 60:150, 1] < log[60:140, 60:150, 0]).all()  # and the region stays red


def test_per_channel_points_level_each_plane(client, cubed):
    _, key = cubed
    # Green and blue stretched hard around the sky, red far above it: the sky turns cyan-ish.
    tile = tile_rgb(client, key, "stretch=linear&black=5000,90,90&white=6000,110,110").astype(int)
    sky = tile[200:250, 0:100]
    assert sky[..., 0].max() == 0 and sky[..., 1].mean() > 80 and sky[..., 2].mean() > 80
    for query in ("black=1,2&white=3,4", "black=1,2,3&white=0,5,6", "black=a,b,c"):
        response = client.get(f"/viewer/tile/0/0/0/{key}?{query}")
        assert response.status_code == 400 and "error" in response.json


def test_the_pyramid_tiles_and_default_levels_work_at_every_level(client, cubed):
    _, key = cubed
    top = tile_rgb(client, key, level=2)  # z-scale levels when none are given
    assert top.shape == (100, 150, 3)
    region = top[15:35, 80:100].astype(int)  # z-scale puts the sky mid-grey; the red region is far above it
    assert region[..., 0].min() == 255 and region[..., 1].mean() < 150
    assert abs(top[60:90, 0:50, 0].mean() - top[60:90, 0:50, 1].mean()) < 20  # linked: a grey sky stays grey


def test_the_readout_gives_r_g_b_and_the_sky_position(client, cubed):
    _, key = cubed
    answer = client.get(f"/viewer/pixel/{KNOWN[0]}/{KNOWN[1]}/{key}").json
    assert answer["rgb"] == list(KNOWN_RGB) and "value" not in answer
    sky = WCS(tan_header(WIDTH, HEIGHT)).pixel_to_world(*KNOWN)
    assert answer["ra"] == pytest.approx(sky.ra.deg, abs=1e-9)
    assert answer["dec"] == pytest.approx(sky.dec.deg, abs=1e-9)
    neighbour = client.get(f"/viewer/pixel/{KNOWN[0] + 1}/{KNOWN[1]}/{key}").json
    assert neighbour["rgb"] != list(KNOWN_RGB)


def test_the_page_shows_colour_controls_the_header_and_downloads_the_cube(services, client, cubed):
    frame_id, key = cubed
    html = client.get(f"/frames/{frame_id}/view").get_data(as_text=True)
    info = page_info(html)
    assert info["channels"] == 3 and info["channel_link"] == "linked" and len(info["channel_histograms"]) == 3
    assert 'id="v-channels"' in html and "<th>R, G, B</th>" in html
    assert '<td class="kw">NAXIS3</td>' in html and '<td class="kw">CTYPE1</td>' in html
    download = client.get(f"/frames/{frame_id}/download")
    assert download.status_code == 200
    with fits.open(io.BytesIO(download.data)) as hdul:
        assert hdul[0].data.shape == (3, HEIGHT, WIDTH)


def test_stars_are_found_on_the_sum_of_the_planes(services, client):
    field = star_field(shape=(HEIGHT, WIDTH), n=40, seed=8).astype(np.float32)
    cube = np.stack([field * 0.5, field * 0.3, field * 0.2])  # each plane fainter than the sum
    frame_id = add_frame(services, fits=fits_bytes(cube))
    stars = client.get(f"/viewer/stars/{key_of(services, frame_id)}").json["stars"]
    assert len(stars) == 40


def test_a_public_colour_frame_opens_for_anonymous_visitors(services):
    """The remote site's gallery links public frames to this viewer; it has none of its own."""
    frame_id = add_frame(services, fits=fits_bytes(colour_cube()), public=True)
    key = key_of(services, frame_id)
    anonymous = make_app(services).test_client()
    assert anonymous.get(f"/frames/{frame_id}/view").status_code == 200
    assert Image.open(io.BytesIO(anonymous.get(f"/viewer/tile/0/0/0/{key}").data)).mode == "RGB"
    assert anonymous.get(f"/viewer/pixel/{KNOWN[0]}/{KNOWN[1]}/{key}").json["rgb"] == list(KNOWN_RGB)


def test_a_grey_frame_is_unchanged(services, client):
    data = np.full((300, 300), 1000, np.uint16)
    data[10, 20] = 3000
    frame_id = add_frame(services, fits=fits_bytes(data))
    key = key_of(services, frame_id)
    html = client.get(f"/frames/{frame_id}/view").get_data(as_text=True)
    assert page_info(html)["channels"] == 1 and 'id="v-channels"' not in html and "<th>Value</th>" in html
    assert Image.open(io.BytesIO(client.get(f"/viewer/tile/0/0/0/{key}").data)).mode == "L"
    assert client.get(f"/viewer/pixel/20/10/{key}").json["value"] == 3000.0
    assert client.get(f"/viewer/tile/0/0/0/{key}?black=1,2,3&white=4,5,6").status_code == 400


def test_the_reader_keeps_a_cube_only_when_asked(tmp_path):
    from master.fitsmeta.reader import read_fits
    path = tmp_path / "cube.fits"
    path.write_bytes(fits_bytes(colour_cube()))
    assert read_fits(path, require_image=True)[1].shape == (HEIGHT, WIDTH)  # everyone else: the luminance
    assert read_fits(path, require_image=True, keep_colour=True)[1].shape == (3, HEIGHT, WIDTH)



def test_a_one_shot_colour_stack_opens_in_colour_levelled_per_channel(services, client, tmp_path):
    """A debayered stack as ``stack_files``/``write_stack`` write it (rejection maps in extensions)."""
    from master.processing.stack import stack_files, write_stack
    from tests.unit.test_processing_colour import _osc_lights

    from master.models import Target
    from master.science.products import store_product
    from master.stacking.final import scope_prefix

    result = stack_files(_osc_lights(tmp_path, n=2), method="mean", sigma=None)
    path = write_stack(result, tmp_path / "osc.fits")
    key = f"{scope_prefix('Field', None)}/RGB.fits"
    with services.sessions() as session:
        target = Target(name="Field", ra_deg=290.0, dec_deg=15.0)
        session.add(target)
        store_product(session, services.store, kind="stack_fits", key=key, data=path.read_bytes(),
                      parameters={"colour": True, "frames": 2})
        session.commit()
        target_id = target.id
    assert f'href="/view/{key}"' in client.get(f"/targets/{target_id}").get_data(as_text=True)  # colour too now
    html = client.get(f"/view/{key}").get_data(as_text=True)
    info = page_info(html)
    assert info["channels"] == 3 and info["channel_link"] == "per"
    assert '<option value="per" selected>' in html
    assert client.get(f"/viewer/pixel/7/5/{key}").json["rgb"] == pytest.approx(result.data[:, 5, 7].tolist())
    assert tile_rgb(client, key).shape == (128, 160, 3)
