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
    seen = {"auth": [], "previews": 0, "body": None}

    @app.get("/api/v1/public/targets")
    def targets():
        seen["auth"].append(request.headers.get("Authorization"))
        if seen["body"] is not None:
            return Response(seen["body"], mimetype="application/json")
        return jsonify(items=[{"name": "M 31", "frames": 3, "exposure_hours": 0.5, "extra": "ignored",
                               "latest": {"frame_id": 7, "filter_name": "L", "exposure_s": 300.0,
                                          "date_obs": "2024-01-05T21:00:00+00:00", "hfr_px": 2.0}},
                              {"name": "M 42", "latest": {"frame_id": 8}}])

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
