"""The JSON API under /api/v1 (read-only for now; a logged-in session or an API token, see access.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from master.models import Frame, Node
from .context import db, get_or_404
from .formatting import iso
from .nodes import node_rows
from .queries import FrameFilters, frame_page, parse_positive_int

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


def _json_value(value):
    return iso(value) if hasattr(value, "isoformat") else value


def frame_dict(frame: Frame) -> dict:
    item = {column.key: _json_value(getattr(frame, column.key)) for column in Frame.__table__.columns}
    item["urls"] = {
        "page": url_for("frames.detail", frame_id=frame.id),
        "thumb": url_for("frames.thumb", frame_id=frame.id) if frame.thumb_key else None,
        "preview": url_for("frames.preview", frame_id=frame.id) if frame.preview_key else None,
        "download": url_for("frames.download", frame_id=frame.id),
    }
    return item


def bad_request(message: str):
    return jsonify(error=message), 400


@bp.get("/frames")
def frames():
    filters, errors = FrameFilters.from_args(request.args)
    try:
        page = parse_positive_int(request.args.get("page"), "page", 1)
        per_page = parse_positive_int(request.args.get("per_page"), "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    except ValueError as exc:
        errors.append(str(exc))
    if errors:
        return bad_request("; ".join(errors))
    result = frame_page(db(), filters, page, per_page)
    return jsonify(items=[frame_dict(frame) for frame in result.items], page=result.page,
                   per_page=result.per_page, total=result.total)


@bp.get("/frames/<int:frame_id>")
def frame(frame_id: int):
    row = get_or_404(Frame, frame_id)
    item = frame_dict(row)
    item["header"] = row.header.cards if row.header is not None else []
    return jsonify(item)


@bp.get("/nodes")
def nodes():
    items = []
    for node, online in node_rows():
        item = {column.key: _json_value(getattr(node, column.key)) for column in Node.__table__.columns}
        item["online"] = online
        items.append(item)
    return jsonify(items=items)

