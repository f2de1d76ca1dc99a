"""Frames marked public: observers mark them, anonymous visitors view and download only those."""
from __future__ import annotations

import numpy as np

from master.models import Frame
from tests.unit.test_viewer_pyramid import fits_bytes
from tests.unit.test_web_support import add_frame, add_user, login, make_app, png_bytes


def _frame(services, **fields) -> tuple[int, str]:
    frame_id = add_frame(services, preview=png_bytes(), fits=fits_bytes(np.arange(600, dtype=np.uint16).reshape(20, 30)),
                         **fields)
    with services.sessions() as session:
        return frame_id, session.get(Frame, frame_id).key


def test_observer_marks_a_frame_public_and_private_again(services):
    frame_id, _ = _frame(services)
    add_user(services, "obs", role="observer")
    client = make_app(services).test_client()
    login(client, "obs")
    assert 'data-visibility="private"' in client.get(f"/frames/{frame_id}").get_data(as_text=True)
    assert client.post(f"/frames/{frame_id}/public", data={"public": "1"}).status_code == 302
    page = client.get(f"/frames/{frame_id}").get_data(as_text=True)
    assert 'data-visibility="public"' in page and "Make private" in page
    assert client.get(f"/api/v1/frames/{frame_id}").json["public"] is True
    client.post(f"/frames/{frame_id}/public", data={"public": "0"})
    with services.sessions() as session:
        assert session.get(Frame, frame_id).public is False


def test_anonymous_visitors_view_public_frames_only(services):
    public_id, public_key = _frame(services, public=True)
    private_id, private_key = _frame(services)  # same target, filter and night: the same blink sequence
    anonymous = make_app(services).test_client()
    page = anonymous.get(f"/frames/{public_id}/view")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/viewer/download/{public_key}" in html and f"/frames/{public_id}/download" not in html
    assert f"/frames/{private_id}/view" not in html  # the blink skips frames that are not public
    assert anonymous.get(f"/viewer/info/{public_key}").status_code == 200
    assert anonymous.get(f"/viewer/tile/0/0/0/{public_key}").headers["Content-Type"] == "image/png"
    assert anonymous.get(f"/viewer/pixel/3/1/{public_key}").json["value"] == 33
    assert anonymous.get(f"/viewer/download/{public_key}").data.startswith(b"SIMPLE")
    assert anonymous.get(f"/public/previews/{public_id}.png").status_code == 200  # its target is not public
    link = anonymous.get(f"/api/v1/frames/{public_id}/link").json
    assert link["direct"] is False and link["url"].endswith(f"/viewer/download/{public_key}")
    # Everything of the private frame sends them to log in, exactly as a missing frame does.
    for url in (f"/frames/{private_id}/view", f"/viewer/info/{private_key}", f"/viewer/tile/0/0/0/{private_key}",
                f"/viewer/download/{private_key}", "/frames/999/view"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert anonymous.get(f"/api/v1/frames/{private_id}/link").status_code == 401
    assert anonymous.get("/api/v1/frames/999/link").status_code == 401
    assert anonymous.get(f"/public/previews/{private_id}.png").status_code == 404
    assert anonymous.get(f"/frames/{public_id}").status_code == 302  # the frame page stays for users


def test_public_frames_api_and_page(services):
    public_id, _ = _frame(services, public=True, object_name="<b>M 31</b>")
    _frame(services)
    anonymous = make_app(services).test_client()
    items = anonymous.get("/api/v1/public/frames").json["items"]
    assert [i["frame_id"] for i in items] == [public_id]
    assert items[0]["viewer_path"] == f"/frames/{public_id}/view"
    assert items[0]["preview_path"] == f"/public/previews/{public_id}.png"
    assert items[0]["link_path"] == f"/api/v1/frames/{public_id}/link"
    assert "key" not in items[0] and "sha256" not in items[0]
    html = anonymous.get("/public/targets").get_data(as_text=True)
    assert f'data-public-frame="{public_id}"' in html and "&lt;b&gt;M 31&lt;/b&gt;" in html
