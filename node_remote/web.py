"""The public, read-only site: ``/`` live page, ``/events`` Server-Sent Events, ``/api/state`` JSON,
``/gallery`` the public targets' latest previews (served from the gallery's cache), ``/weather.svg``
the weather chart.

A Flask application factory; the state it shows is passed in. Strict Content-Security-Policy:
scripts, styles and connections only from this site (no CDN, no inline code).
"""
from __future__ import annotations

import json
import queue
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, render_template, stream_with_context

from .gallery import Gallery
from .state import LiveState

KEEPALIVE_S = 15.0
RETRY_MS = 3000


def sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def when(value) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS UTC`` (live.js does the same in the browser)."""
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        return "—" if value in (None, "") else str(value)
    return value[:10] + " " + value[11:19] + " UTC"


def per_node(topics: dict, base: str) -> list[tuple[str, dict]]:
    """(node, payload) of every ``<base><node>`` topic, by node name."""
    return sorted((leaf[len(base):], value) for leaf, value in topics.items() if leaf.startswith(base))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def create_app(state: LiveState, *, title: str = "OBSY observatory", master_url: str = "",
               max_streams: int = 12, keepalive_s: float = KEEPALIVE_S, gallery: Gallery | None = None) -> Flask:
    app = Flask(__name__)
    app.add_template_filter(when)
    master_url = master_url.rstrip("/")
    master_origin = _origin(master_url)
    csp = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
           f"img-src 'self'{' ' + master_origin if master_origin else ''}; "
           "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.get("/")
    def index():
        snapshot = state.snapshot()
        topics = snapshot["topics"]
        return render_template("index.html", title=title, state=snapshot, topics=topics, master_url=master_url,
                               nodes=per_node(topics, "nodes/"), roofs=per_node(topics, "roof/"),
                               mounts=per_node(topics, "mount/"))

    @app.get("/api/state")
    def api_state():
        response = jsonify(state.snapshot())
        response.cache_control.no_store = True
        return response

    @app.get("/events")
    def events():
        stream = state.open_stream(max_streams)
        if stream is None:
            response = Response("too many live pages open; retry later\n", status=503, mimetype="text/plain")
            response.headers["Retry-After"] = "10"
            return response

        def generate():
            try:
                yield f"retry: {RETRY_MS}\n\n"
                yield sse("state", state.snapshot())
                while True:
                    try:
                        item = stream.get(timeout=keepalive_s)
                    except queue.Empty:
                        yield ": keepalive\n\n"
                        continue
                    if item is None:
                        return
                    yield sse(item["type"], item)
            finally:
                state.close_stream(stream)

        response = Response(stream_with_context(generate()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
        return response

    gallery = gallery or Gallery("")

    @app.get("/gallery")
    def gallery_page():
        return render_template("gallery.html", title=title, gallery=gallery.snapshot())

    @app.get("/gallery/<int:frame_id>.png")
    def gallery_preview(frame_id: int):
        data = gallery.preview(frame_id)
        if data is None:
            abort(404)
        response = Response(data, mimetype="image/png")
        response.cache_control.max_age = 300
        return response

    @app.get("/weather.svg")
    def weather_chart():
        response = Response(state.weather.svg(), mimetype="image/svg+xml")
        response.cache_control.no_store = True
        return response

    @app.get("/healthz")
    def healthz():
        connected = state.snapshot()["connection"]["connected"]
        return jsonify(ok=True, mqtt_connected=connected)

    return app
