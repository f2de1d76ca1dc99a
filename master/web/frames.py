"""The frame browser, the frame page, and the frame's images and FITS file."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from common.objectstore import ObjectStoreError
from master.models import Frame
from .context import db, get_or_404, services
from .formatting import filesize, sexagesimal, utc
from .links import download_name, frame_link
from .queries import FrameFilters, filter_choices, frame_page, parse_positive_int
from .sending import send_object

bp = Blueprint("frames", __name__)

PAGE_SIZE = 50
REFRESH_HEADER = "X-OBSY-Refresh"  # set by obsy.js when it fetches only the list
IMAGE_MAX_AGE_S = 86400


def is_refresh() -> bool:
    return request.headers.get(REFRESH_HEADER) == "1"


@bp.get("/frames")
def index():
    filters, errors = FrameFilters.from_args(request.args)
    try:
        page_number = parse_positive_int(request.args.get("page"), "page", 1)
    except ValueError as exc:
        errors.append(str(exc))
        page_number = 1
    page = frame_page(db(), filters, page_number, PAGE_SIZE, clamp=True)
    context = {"page": page, "filters": filters, "args": filters.to_args()}
    if is_refresh():
        response = Response(render_template("frames/_list.html", **context))
    else:
        response = Response(render_template("frames/index.html", choices=filter_choices(db()),
                                            errors=errors, **context))
    response.vary.add(REFRESH_HEADER)
    return response


def show(value) -> str | None:
    """A field value as the frame page shows it; None for 'not known'."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pair(a, b) -> str | None:
    return f"{a} × {b}" if a and b else None


def _angle(degrees: float | None, hours: bool) -> str | None:
    return None if degrees is None else f"{sexagesimal(degrees, hours=hours)} ({degrees:.5f}°)"


def frame_fields(frame: Frame) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The normalised fields, grouped and formatted for the frame page."""
    groups = [
        ("Observation", [
            ("Object", frame.object_name), ("Target", frame.target_name), ("Type", frame.frame_type),
            ("Filter", frame.filter_name), ("Exposure (s)", frame.exposure_s),
            ("Date (UTC)", frame.date_obs), ("Night", frame.night), ("Observer", frame.observer),
            ("Capture program", frame.capture_program),
        ]),
        ("Equipment", [
            ("Telescope", frame.telescope), ("Camera", frame.camera),
            ("Focal length (mm)", frame.focal_length_mm), ("Pixel size (µm)", frame.pixel_size_um),
            ("Size (px)", _pair(frame.width, frame.height)), ("Binning", _pair(frame.binning_x, frame.binning_y)),
            ("Gain", frame.gain), ("Offset", frame.offset), ("Bayer pattern", frame.bayer_pattern),
            ("Sensor temperature (°C)", frame.ccd_temp_c), ("Set temperature (°C)", frame.set_temp_c),
        ]),
        ("Position", [
            ("RA", _angle(frame.ra_deg, hours=True)), ("Dec", _angle(frame.dec_deg, hours=False)),
            ("Site", frame.site_name), ("Site latitude (°)", frame.site_lat),
            ("Site longitude (°)", frame.site_lon), ("Site elevation (m)", frame.site_elev),
        ]),
        ("File", [
            ("Original name", frame.original_name), ("SHA-256", frame.sha256),
            ("Size", f"{filesize(frame.size)} ({frame.size:,} bytes)"),
            ("Node", frame.node_name), ("Source", frame.source), ("Key", frame.key),
            ("Ingested (UTC)", frame.ingested_at),
        ]),
    ]
    return [(title, [(label, show(value)) for label, value in rows]) for title, rows in groups]


@bp.get("/frames/<int:frame_id>")
def detail(frame_id: int):
    frame = get_or_404(Frame, frame_id)
    cards = frame.header.cards if frame.header is not None else []
    return render_template("frames/detail.html", frame=frame, groups=frame_fields(frame), cards=cards,
                           link=frame_link(frame),
                           back=request.referrer if _same_site_referrer() else url_for("frames.index"))


def _same_site_referrer() -> bool:
    # "Back" returns to the filtered, paged list the user came from.
    return (request.referrer or "").startswith(url_for("frames.index", _external=True))


def image_response(frame: Frame, kind: str, *, max_age: int = IMAGE_MAX_AGE_S, shared: bool = False):
    """The frame's thumbnail or preview PNG from the store; 404 when it has none."""
    key = frame.thumb_key if kind == "thumb" else frame.preview_key
    if not key:
        abort(404)
    try:
        data = services().store.get_bytes(key)
    except KeyError:
        abort(404)
    except ObjectStoreError:
        abort(503)
    response = Response(data, mimetype="image/png")
    if shared:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
    response.cache_control.max_age = max_age
    response.set_etag(f"{frame.sha256}-{kind}-{key}")
    return response.make_conditional(request)


@bp.get("/frames/<int:frame_id>/thumb.png")
def thumb(frame_id: int):
    return image_response(get_or_404(Frame, frame_id), "thumb")


@bp.get("/frames/<int:frame_id>/preview.png")
def preview(frame_id: int):
    return image_response(get_or_404(Frame, frame_id), "preview")


@bp.get("/frames/<int:frame_id>/download")
def download(frame_id: int):
    frame = get_or_404(Frame, frame_id)
    return send_object(frame.key, download_name(frame))


@bp.post("/frames/<int:frame_id>/public")
def set_public(frame_id: int):
    """Observers mark a frame public (anonymous visitors may view and download it) or private again."""
    frame = get_or_404(Frame, frame_id)
    if FlaskForm().validate_on_submit():
        frame.public = request.form.get("public") == "1"
        db().commit()
        flash("frame is public: anyone may view and download it" if frame.public else "frame is private", "ok")
    return redirect(url_for("frames.detail", frame_id=frame.id))
