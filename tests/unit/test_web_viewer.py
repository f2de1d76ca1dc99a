"""The viewer's pages and data endpoints: status codes, cache headers, bad parameters, errors as pages."""
from __future__ import annotations

import io
import json
import re
from datetime import date

import numpy as np
import pytest
from astropy.wcs import WCS
from PIL import Image

from master.models import Frame
from tests.unit.test_viewer_pyramid import fits_bytes, tan_header
from tests.unit.test_web_support import add_frame, add_user, login, make_app

WIDTH, HEIGHT = 700, 520


def image() -> np.ndarray:
    rng = np.random.default_rng(5)
    data = rng.normal(1000, 10, (HEIGHT, WIDTH)).astype(np.uint16)
    data[100, 200] = 40000
    return data


@pytest.fixture
def framed(services):
    """A frame with a real FITS file and a WCS; returns (frame id, key)."""
    frame_id = add_frame(services, fits=fits_bytes(image(), tan_header(WIDTH, HEIGHT)))
    return frame_id, key_of(services, frame_id)


def key_of(services, frame_id: int) -> str:
    with services.sessions() as session:
        return session.get(Frame, frame_id).key


def page_info(html: str) -> dict:
    return json.loads(re.search(r"data-info='([^']*)'", html).group(1).replace("&#34;", '"'))


def test_the_frame_page_links_to_the_viewer(client, framed):
    frame_id, _ = framed
    html = client.get(f"/frames/{frame_id}").get_data(as_text=True)
    assert f'href="/frames/{frame_id}/view"' in html


def test_viewer_page_carries_the_pyramid_and_the_file_header(client, framed):
    frame_id, key = framed
    response = client.get(f"/frames/{frame_id}/view")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    info = page_info(html)
    assert (info["width"], info["height"], info["key"]) == (WIDTH, HEIGHT, key)
    assert info["levels"] == [[700, 520], [350, 260], [175, 130]] and info["wcs"] is True
    assert set(info["display"]) >= {"zscale", "minmax", "p99.5"}
    assert info["tile_url"] == f"/viewer/tile/{{level}}/{{x}}/{{y}}/{key}"
    assert '<td class="kw">CTYPE1</td>' in html  # the header table is the file's own
    assert f'href="/frames/{frame_id}/download"' in html
    assert "no-store" in response.headers["Cache-Control"]


def test_tiles_are_pngs_cached_privately_and_change_with_the_stretch(client, framed):
    _, key = framed
    response = client.get(f"/viewer/tile/0/0/0/{key}?stretch=linear&black=990&white=1030")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] in ("private, max-age=86400", "max-age=86400, private")
    linear = np.asarray(Image.open(io.BytesIO(response.data)))
    assert linear.shape == (256, 256) and linear.dtype == np.uint8
    etag = response.headers["ETag"]
    again = client.get(f"/viewer/tile/0/0/0/{key}?stretch=linear&black=990&white=1030",
                       headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    log = np.asarray(Image.open(io.BytesIO(client.get(f"/viewer/tile/0/0/0/{key}?stretch=log&black=990&white=1030").data)))
    assert log.mean() > linear.mean() + 30
    corner = client.get(f"/viewer/tile/0/2/2/{key}")  # z-scale levels when none are given
    assert Image.open(io.BytesIO(corner.data)).size == (WIDTH - 512, HEIGHT - 512)
    top = client.get(f"/viewer/tile/2/0/0/{key}")
    assert Image.open(io.BytesIO(top.data)).size == (175, 130)


@pytest.mark.parametrize("query", ["stretch=gamma", "black=abc", "white=", "black=10&white=10",
                                   "black=20&white=10", "black=nan&white=10", "white=inf"])
def test_bad_tile_parameters_are_400(client, framed, query):
    _, key = framed
    response = client.get(f"/viewer/tile/0/0/0/{key}?{query}")
    assert response.status_code == 400 and "error" in response.json


@pytest.mark.parametrize("path", ["tile/3/0/0", "tile/0/3/0", "tile/0/0/3", "tile/-1/0/0", "pixel/700/0",
                                  "pixel/0/520", "pixel/-1/0"])
def test_outside_the_image_is_404(client, framed, path):
    _, key = framed
    assert client.get(f"/viewer/{path}/{key}").status_code == 404


def test_pixel_value_and_sky_position(client, framed):
    _, key = framed
    answer = client.get(f"/viewer/pixel/200/100/{key}").json
    assert answer["value"] == 40000.0 and (answer["x"], answer["y"]) == (200, 100)
    sky = WCS(tan_header(WIDTH, HEIGHT)).pixel_to_world(200, 100)
    assert answer["ra"] == pytest.approx(sky.ra.deg, abs=1e-9)
    assert answer["dec"] == pytest.approx(sky.dec.deg, abs=1e-9)


def test_a_frame_without_wcs_has_no_sky_position(services, client):
    frame_id = add_frame(services, fits=fits_bytes(image()))
    key = key_of(services, frame_id)
    assert "ra" not in client.get(f"/viewer/pixel/1/1/{key}").json
    assert page_info(client.get(f"/frames/{frame_id}/view").get_data(as_text=True))["wcs"] is False


def test_info_and_stars_are_json(client, framed):
    _, key = framed
    info = client.get(f"/viewer/info/{key}")
    assert info.status_code == 200 and info.json["width"] == WIDTH and "private" in info.headers["Cache-Control"]
    stars = client.get(f"/viewer/stars/{key}")
    assert stars.status_code == 200 and stars.json == {"stars": []}  # one hot pixel is not a star


def test_a_missing_file_is_a_page_that_says_so(services, client):
    frame_id = add_frame(services)  # a row whose object is gone
    key = key_of(services, frame_id)
    response = client.get(f"/frames/{frame_id}/view")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "This file cannot be shown" in html and f"there is no file {key}" in html
    for path in ("info", "tile/0/0/0", "pixel/0/0", "stars"):
        answer = client.get(f"/viewer/{path}/{key}")
        assert answer.status_code == 404 and "no file" in answer.json["error"]


def test_a_corrupt_file_is_a_page_that_says_so(services, client):
    frame_id = add_frame(services, fits=fits_bytes(image())[:9000])
    key = key_of(services, frame_id)
    response = client.get(f"/frames/{frame_id}/view")
    assert response.status_code == 422
    assert "truncated file" in response.get_data(as_text=True)
    assert client.get(f"/viewer/tile/0/0/0/{key}").status_code == 422
    not_fits = add_frame(services, fits=b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    html = client.get(f"/frames/{not_fits}/view").get_data(as_text=True)
    assert "it looks like a PNG image" in html


@pytest.mark.parametrize("key", ["incoming/scope1/abc.fits", "frames/x/preview.png", "frames/../secret.fits",
                                 "previews/ab/abc.preview.png", "frames/nothing.fits"])
def test_keys_outside_the_fits_repository_are_404(client, key):
    assert client.get(f"/view/{key}").status_code == 404
    assert client.get(f"/viewer/tile/0/0/0/{key}").status_code == 404


def test_any_fits_object_by_key_and_frames_by_key_redirect(services, client, framed):
    frame_id, key = framed
    services.store.put_bytes("masters/bias/cam/master-bias.fits", fits_bytes(np.full((40, 60), 300, np.int16)))
    response = client.get("/view/masters/bias/cam/master-bias.fits")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert page_info(html)["width"] == 60
    assert 'href="/viewer/download/masters/bias/cam/master-bias.fits"' in html
    download = client.get("/viewer/download/masters/bias/cam/master-bias.fits")
    assert download.status_code == 200 and download.headers["Content-Disposition"].endswith("master-bias.fits")
    assert client.get("/viewer/pixel/59/39/masters/bias/cam/master-bias.fits").json["value"] == 300.0
    redirect = client.get(f"/view/{key}")
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith(f"/frames/{frame_id}/view")


def test_the_blink_sequence_is_the_same_target_filter_and_night(services, client):
    night = date(2024, 1, 5)
    data = fits_bytes(image())
    same = [add_frame(services, fits=data, night=night, sha256=f"{n:064x}") for n in range(900, 903)]
    add_frame(services, fits=data, night=night, filter_name="Ha", sha256=f"{904:064x}")
    add_frame(services, fits=data, night=date(2024, 1, 6), sha256=f"{905:064x}")
    html = client.get(f"/frames/{same[1]}/view").get_data(as_text=True)
    sequence = json.loads(re.search(r"data-sequence='([^']*)'", html).group(1).replace("&#34;", '"'))
    assert [item["id"] for item in sequence] == same
    assert sequence[0]["info"] == f"/viewer/info/{key_of(services, same[0])}"
    assert "2 of 3" in html and 'id="v-blink"' in html


def test_anonymous_visitors_are_sent_to_log_in(services, framed):
    frame_id, key = framed
    anonymous = make_app(services).test_client()
    for url in (f"/frames/{frame_id}/view", f"/view/{key}", f"/viewer/tile/0/0/0/{key}", f"/viewer/pixel/0/0/{key}"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_guests_may_view(services, framed):
    frame_id, key = framed
    add_user(services, "visitor", role="guest")
    guest = make_app(services).test_client()
    login(guest, "visitor")
    assert guest.get(f"/frames/{frame_id}/view").status_code == 200
    assert guest.get(f"/viewer/tile/1/0/0/{key}").status_code == 200
