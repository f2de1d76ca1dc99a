"""The remote gallery's fetching against a small loopback server: token, bad answers, caching."""
import threading

import pytest
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from node_remote.gallery import Gallery
from node_remote.state import LiveState
from node_remote.web import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


@pytest.fixture
def fake_master():
    app = Flask(__name__)
    seen = {"auth": [], "previews": 0, "body": None, "frames": None}

    @app.get("/api/v1/public/targets")
    def targets():
        seen["auth"].append(request.headers.get("Authorization"))
        if seen["body"] is not None:
            return Response(seen["body"], mimetype="application/json")
        return jsonify(items=[{"name": "M 31", "frames": 3, "exposure_hours": 0.5, "extra": "ignored",
                               "latest": {"frame_id": 7, "filter_name": "L", "exposure_s": 300.0,
                                          "date_obs": "2024-01-05T21:00:00+00:00", "hfr_px": 2.0}},
                              {"name": "M 42", "latest": {"frame_id": 8}}])

    @app.get("/api/v1/public/frames")
    def frames():
        if seen["frames"] is None:
            return "not here", 404  # a master from before public frames
        return Response(seen["frames"], mimetype="application/json")

    @app.get("/public/previews/<int:frame_id>.png")
    def preview(frame_id):
        seen["previews"] += 1
        return Response(PNG, mimetype="image/png") if frame_id == 7 else ("gone", 404)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", seen
    server.shutdown()
    thread.join(timeout=5)


def test_fetches_with_token_keeps_previews_and_refuses_bad_answers(fake_master):
    url, seen = fake_master
    gallery = Gallery(url, token="tok-123", timeout_s=2)
    assert gallery.refresh() is True
    assert seen["auth"] == ["Bearer tok-123"]
    snapshot = gallery.snapshot()
    assert [(i["name"], i["has_preview"]) for i in snapshot["items"]] == [("M 31", True), ("M 42", False)]
    assert "extra" not in snapshot["items"][0] and snapshot["error"] is None
    assert gallery.preview(7) == PNG and gallery.preview(8) is None
    assert gallery.refresh() is True and seen["previews"] == 3  # 7 is held; 8 (missing) is asked again
    for body in ("not json", '{"items": [{"frames": 1}]}', '{"nothing": []}'):
        seen["body"] = body
        assert gallery.refresh() is False
        snapshot = gallery.snapshot()
        assert "invalid gallery" in snapshot["error"] and snapshot["failing_since"]
        assert [i["name"] for i in snapshot["items"]] == ["M 31", "M 42"]  # the last good one stays
    seen["body"] = None
    assert gallery.refresh() is True and gallery.snapshot()["failing_since"] is None
    gallery.stop()


def test_without_a_master_url_the_page_says_there_is_no_gallery():
    gallery = Gallery("")
    assert not gallery.enabled and gallery.start()._thread is None
    client = create_app(LiveState("home"), gallery=gallery).test_client()
    page = client.get("/gallery")
    assert page.status_code == 200 and "does not know the master" in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/gallery/1.png").status_code == 404


def test_public_frames_are_shown_with_their_previews_and_viewer_links(fake_master):
    url, seen = fake_master
    seen["frames"] = ('{"items": [{"frame_id": 7, "object_name": "<M 31>", "filter_name": "Ha", "exposure_s": 600,'
                      ' "date_obs": "2024-01-05T22:00:00+00:00", "preview_path": "/public/previews/7.png",'
                      ' "viewer_path": "/frames/7/view"},'
                      ' {"frame_id": 9, "preview_path": null, "viewer_path": "/frames/9/view"}]}')
    gallery = Gallery(url, timeout_s=2, viewer_base="https://obs.example.org/")
    assert gallery.refresh() is True
    assert seen["previews"] == 2  # 7 once, though both the target and the public frame show it; 8 missing
    frames = gallery.snapshot()["frames"]
    assert [(f["frame_id"], f["has_preview"], f["viewer_url"]) for f in frames] == [
        (7, True, "https://obs.example.org/frames/7/view"), (9, False, "https://obs.example.org/frames/9/view")]
    html = create_app(LiveState("home"), gallery=gallery).test_client().get("/gallery").get_data(as_text=True)
    assert 'data-public-frame="7"' in html and 'href="https://obs.example.org/frames/7/view"' in html
    assert "&lt;M 31&gt;" in html and "<M 31>" not in html
    # A viewer path that is not the master's viewer route is refused with the whole answer.
    seen["frames"] = '{"items": [{"frame_id": 7, "viewer_path": "javascript:alert(1)"}]}'
    assert gallery.refresh() is False and "invalid gallery" in gallery.snapshot()["error"]
    assert gallery.snapshot()["frames"][0]["frame_id"] == 7  # the last good one stays
    gallery.stop()
