"""The FITS viewer: a page per frame (or any FITS object by key), and the tiles and readouts it loads.

Tiles are rendered on the server as 8-bit PNGs for the stretch and black/white points named in
the URL. The alternative, shipping raw float tiles and stretching them in the browser, would send
four times the bytes per tile and need a FITS-aware renderer in JavaScript; here the browser only
places images, each stretch is a distinct URL the browser caches (blinking back and forth costs
nothing after the first pass), and the stretch code is the one the unit tests check against
astropy. Changing the stretch reloads the visible tiles: about a dozen 256x256 PNGs.

Data URLs end with the object key (``<path:key>`` last), so keys with slashes need no escaping.
"""
from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import PurePosixPath

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from PIL import Image
from sqlalchemy import select

from common import paths
from common.objectstore import check_key
from master.models import Frame
from master.viewer import Pyramid, ViewerCache, ViewerError
from master.viewer import stretch
from master.viewer.sky import radec
from .access import public_or_login
from .context import db, services
from .links import download_name, visible_frame
from .sending import send_object

bp = Blueprint("viewer", __name__)

# Where repository FITS objects live; incoming/ holds unverified uploads and is never shown.
VIEWABLE_PREFIXES = ("frames/", "calibration/", "rejected/", "masters/", "stacks/", "products/stacks/")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz")
TILE_MAX_AGE_S = 86400
DATA_MAX_AGE_S = 3600
SEQUENCE_LIMIT = 500
PNG_OPTIONS = {"compress_level": 6, "compress_type": zlib.Z_RLE}  # as previews.py: sky noise barely compresses


def cache() -> ViewerCache:
    extensions = current_app.extensions
    if "obsy_viewer" not in extensions:
        root = current_app.config.get("OBSY_VIEWER_CACHE") or paths.data_dir() / "cache" / "viewer"
        extensions.setdefault("obsy_viewer", ViewerCache(root, services().store))
    return extensions["obsy_viewer"]


def viewable(key: str) -> str:
    """The key, if it names a FITS object in the repository; a 404 for anything else."""
    try:
        check_key(key)
    except ValueError:
        abort(404)
    if not key.startswith(VIEWABLE_PREFIXES) or not key.lower().endswith(FITS_SUFFIXES):
        abort(404)
    return key


def visible_key(key: str) -> str:
    """``viewable(key)``, and for anonymous visitors only the key of a public frame."""
    viewable(key)
    public_or_login(lambda: db().scalar(select(Frame.id).where(Frame.key == key, Frame.public.is_(True))) is not None)
    return key


def _data_error(error: ViewerError):
    return jsonify(error=error.message), error.status


def _bad_request(message: str):
    return jsonify(error=message), 400


def _cacheable(response: Response, max_age: int, etag: str) -> Response:
    response.cache_control.private = True  # no shared cache keeps them (a public frame may be made private again)
    response.cache_control.max_age = max_age
    response.set_etag(etag)
    return response.make_conditional(request)


# ---------------------------------------------------------------------------- pages


@bp.get("/frames/<int:frame_id>/view")
def frame(frame_id: int):
    row = visible_frame(frame_id)
    sequence = sequence_of(row)
    position = next((n for n, item in enumerate(sequence, 1) if item["id"] == row.id), None)
    download = url_for("frames.download", frame_id=row.id) if current_user.is_authenticated else \
        url_for(".download", key=row.key)
    return _page(row.key, title=row.object_name or row.frame_type, frame=row, sequence=sequence, position=position,
                 download=download)


@bp.get("/view/<path:key>")
def object_(key: str):
    viewable(key)
    frame_id = db().scalar(select(Frame.id).where(Frame.key == key))
    if frame_id is not None:  # a frame is shown with its sequence and its own download name
        return redirect(url_for(".frame", frame_id=frame_id))
    return _page(key, title=PurePosixPath(key).name, frame=None, sequence=[], position=None,
                 download=url_for(".download", key=key))


def _page(key: str, **context):
    try:
        pyramid = cache().pyramid(key)
    except ViewerError as error:
        return render_template("viewer/unavailable.html", key=key, message=error.message, **context), error.status
    cards = [(card.keyword, card.value, card.comment) for card in pyramid.header().cards if card.keyword]
    return render_template("viewer/view.html", key=key, info=info_of(key, pyramid), cards=cards, **context)


def sequence_of(row: Frame) -> list[dict]:
    """Frames of the same target, filter, type and night, in time order: what the blink steps through."""
    same = [Frame.frame_type == row.frame_type]
    if not current_user.is_authenticated:  # anonymous visitors blink through public frames only
        same.append(Frame.public.is_(True))
    for column, value in ((Frame.target_name, row.target_name), (Frame.filter_name, row.filter_name),
                          (Frame.night, row.night)):
        same.append(column.is_(None) if value is None else column == value)
    rows = db().execute(select(Frame.id, Frame.key, Frame.date_obs).where(*same)
                        .order_by(Frame.date_obs, Frame.id).limit(SEQUENCE_LIMIT))
    return [{"id": id_, "key": key, "when": when.strftime("%H:%M:%S") if when else f"#{id_}",
             "view": url_for(".frame", frame_id=id_), "info": url_for(".info", key=key)} for id_, key, when in rows]


def info_of(key: str, pyramid: Pyramid) -> dict:
    meta = pyramid.meta
    root = request.script_root
    return {
        "key": key, "version": pyramid.directory.name[:12],
        **{name: meta[name] for name in ("width", "height", "tile", "levels", "display", "histogram", "wcs")},
        "channels": meta.get("channels", 1),
        **{name: meta[name] for name in ("channel_link", "channel_display", "channel_histograms") if name in meta},
        # Patterns the page fills in; kept next to the routes they name.
        "tile_url": f"{root}/viewer/tile/{{level}}/{{x}}/{{y}}/{key}",
        "pixel_url": f"{root}/viewer/pixel/{{x}}/{{y}}/{key}",
        "stars_url": f"{root}/viewer/stars/{key}",
    }


# ---------------------------------------------------------------------------- data


@bp.get("/viewer/info/<path:key>")
def info(key: str):
    visible_key(key)
    try:
        pyramid = cache().pyramid(key)
    except ViewerError as error:
        return _data_error(error)
    return _cacheable(jsonify(info_of(key, pyramid)), DATA_MAX_AGE_S, f"info-{pyramid.directory.name}")


@bp.get("/viewer/tile/<int:level>/<int:x>/<int:y>/<path:key>")
def tile(level: int, x: int, y: int, key: str):
    """One PNG tile. ``stretch`` (linear, log, asinh) and ``black``/``white`` (data values; z-scale if absent).
    A colour cube's tile is an RGB PNG; its ``black``/``white`` are one value for all three channels
    (linked) or three comma-separated ones (each channel its own)."""
    visible_key(key)
    name = request.args.get("stretch", "linear")
    if name not in stretch.STRETCHES:
        return _bad_request(f"stretch must be one of {', '.join(stretch.STRETCHES)}")
    try:
        pyramid = cache().pyramid(key)
    except ViewerError as error:
        return _data_error(error)
    default_black, default_white = pyramid.meta["display"]["zscale"]
    channels = 3 if pyramid.colour else 1
    try:
        blacks = points(request.args.get("black"), default_black, channels)
        whites = points(request.args.get("white"), default_white, channels)
        for black, white in zip(blacks, whites):
            stretch.check(name, black, white)
    except ValueError as exc:
        return _bad_request(f"black and white must be numbers (three, comma-separated, per colour channel), "
                            f"white above black ({exc})")
    etag = hashlib.sha256(f"{pyramid.directory.name}/{level}/{x}/{y}/{name}/{blacks!r}/{whites!r}".encode()).hexdigest()
    if request.if_none_match.contains(etag):  # the browser has it: skip the render
        return _cacheable(Response(status=304), TILE_MAX_AGE_S, etag)
    try:
        pixels = pyramid.tile(level, x, y)
    except IndexError as exc:
        return jsonify(error=str(exc)), 404
    if pyramid.colour:
        rendered = stretch.render_colour(pixels, name, blacks, whites)
    else:
        rendered = stretch.render(pixels, name, blacks[0], whites[0])
    buffer = io.BytesIO()
    Image.fromarray(rendered).save(buffer, format="PNG", **PNG_OPTIONS)
    return _cacheable(Response(buffer.getvalue(), mimetype="image/png"), TILE_MAX_AGE_S, etag)


def points(text: str | None, default: float, channels: int) -> list[float]:
    """Black or white points for each channel: one number for all, or (colour only) one per channel."""
    if text is None:
        return [float(default)] * channels
    values = [float(part) for part in text.split(",")]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(f"{len(values)} values for {channels} channel(s)")
    return values


@bp.get("/viewer/pixel/<int:x>/<int:y>/<path:key>")
def pixel(x: int, y: int, key: str):
    """The full-resolution value at 0-based column x, row y (``rgb``: [R, G, B] for a colour cube instead of
    ``value``), and RA/Dec there when the header has a WCS."""
    visible_key(key)
    try:
        pyramid = cache().pyramid(key)
    except ViewerError as error:
        return _data_error(error)
    try:
        value = pyramid.value(x, y)
    except IndexError as exc:
        return jsonify(error=str(exc)), 404
    if isinstance(value, list):  # a colour cube: R, G, B
        answer = {"x": x, "y": y, "rgb": [v if v == v else None for v in value]}  # NaN is not JSON
    else:
        answer = {"x": x, "y": y, "value": value if value == value else None}
    wcs = pyramid.wcs()
    if wcs is not None:
        answer["ra"], answer["dec"] = radec(wcs, x, y)
    return _cacheable(jsonify(answer), DATA_MAX_AGE_S, f"pixel-{pyramid.directory.name}-{x}-{y}")


@bp.get("/viewer/stars/<path:key>")
def stars(key: str):
    """Stars found by the grading code: [x, y, hfr] with 0-based pixel centres, brightest first, and
    [x, y, hfr, ra, dec] when the header has a WCS (picking stars for photometry needs their position)."""
    visible_key(key)
    try:
        pyramid = cache().pyramid(key)
        found = cache().stars(pyramid)
    except ViewerError as error:
        return _data_error(error)
    items = [[round(s["x"], 2), round(s["y"], 2), None if s["hfr"] is None else round(s["hfr"], 2)] for s in found]
    wcs = pyramid.wcs()
    if wcs is not None and items:
        world = wcs.all_pix2world([[s["x"], s["y"]] for s in found], 0)
        for item, (ra, dec) in zip(items, world):
            item += [round(float(ra) % 360.0, 6), round(float(dec), 6)]
    return _cacheable(jsonify(stars=items), DATA_MAX_AGE_S, f"stars-{pyramid.directory.name}")


@bp.get("/viewer/download/<path:key>")
def download(key: str):
    visible_key(key)
    row = db().scalar(select(Frame).where(Frame.key == key))
    return send_object(key, download_name(row) if row is not None else PurePosixPath(key).name)
