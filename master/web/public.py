"""What anonymous visitors may see: the targets marked public and their latest previews, and the frames
marked public (previews, viewer, download; see ``viewer`` and ``links``). Nothing else."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, url_for
from sqlalchemy import func, select

from master.models import Frame, Target
from .context import db
from .formatting import iso
from .frames import image_response

bp = Blueprint("public", __name__)

PUBLIC_FIELDS = ("name", "ra_deg", "dec_deg", "object_type", "magnitude", "size_major_arcmin",
                 "size_minor_arcmin", "constellation", "catalog_id", "common_names")
# Short: a target made private again stops being served by shared caches soon.
PUBLIC_IMAGE_MAX_AGE_S = 300


def _accepted_lights(target: Target) -> tuple:
    return (Frame.target_name == target.name, Frame.frame_type == "light", Frame.accepted.is_(True))


def latest_preview(target: Target) -> dict | None:
    """The newest accepted light frame of ``target`` that has a preview, with what a gallery shows."""
    frame = db().scalars(select(Frame).where(*_accepted_lights(target), Frame.preview_key.is_not(None))
                         .order_by(Frame.date_obs.desc().nulls_last(), Frame.id.desc()).limit(1)).first()
    if frame is None:
        return None
    return {"frame_id": frame.id, "filter_name": frame.filter_name, "exposure_s": frame.exposure_s,
            "date_obs": iso(frame.date_obs), "hfr_px": frame.hfr_px,
            "preview_path": url_for("public.preview", frame_id=frame.id)}


def public_targets() -> list[dict]:
    """Each public target's catalogue fields, its accepted light frames and the FITS OBJECT names used."""
    rows = []
    for target in db().scalars(select(Target).where(Target.public.is_(True)).order_by(Target.name)):
        lights = _accepted_lights(target)
        count, seconds = db().execute(select(func.count(Frame.id), func.sum(Frame.exposure_s)).where(*lights)).one()
        names = db().scalars(select(Frame.object_name).where(*lights, Frame.object_name.is_not(None))
                             .distinct().order_by(Frame.object_name).limit(10))
        item = {field: getattr(target, field) for field in PUBLIC_FIELDS}
        item.update(frames=count, exposure_hours=round((seconds or 0) / 3600, 2), recorded_as=list(names),
                    latest=latest_preview(target))
        rows.append(item)
    return rows


PUBLIC_FRAME_LIMIT = 200


def public_frames(limit: int = PUBLIC_FRAME_LIMIT) -> list[dict]:
    """Frames marked public, newest first, with the paths a visitor (or the remote site) can open."""
    rows = db().scalars(select(Frame).where(Frame.public.is_(True))
                        .order_by(Frame.date_obs.desc().nulls_last(), Frame.id.desc()).limit(limit))
    return [{"frame_id": f.id, "target_name": f.target_name, "object_name": f.object_name,
             "frame_type": f.frame_type, "filter_name": f.filter_name, "exposure_s": f.exposure_s,
             "date_obs": iso(f.date_obs), "hfr_px": f.hfr_px, "width": f.width, "height": f.height,
             "preview_path": url_for("public.preview", frame_id=f.id) if f.preview_key else None,
             "viewer_path": url_for("viewer.frame", frame_id=f.id),
             "link_path": url_for("links.api_frame_link", frame_id=f.id)} for f in rows]


@bp.get("/public/targets")
def targets():
    return render_template("public/targets.html", targets=public_targets(), frames=public_frames())


@bp.get("/api/v1/public/frames")
def api_frames():
    return jsonify(items=public_frames())


@bp.get("/api/v1/public/targets")
def api_targets():
    return jsonify(items=public_targets())


@bp.get("/public/previews/<int:frame_id>.png")
def preview(frame_id: int):
    """A frame's preview, only while the frame or its target is public: 404 otherwise, never a hint why."""
    frame = db().get(Frame, frame_id)
    public = frame is not None and (frame.public or frame.target_name is not None and db().scalar(
        select(Target.id).where(Target.name == frame.target_name, Target.public.is_(True))))
    if not public:
        abort(404)
    return image_response(frame, "preview", max_age=PUBLIC_IMAGE_MAX_AGE_S, shared=True)
