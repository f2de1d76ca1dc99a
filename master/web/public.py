"""What anonymous visitors may see: the targets marked public, and nothing else."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import func, select

from master.models import Frame, Target
from .context import db

bp = Blueprint("public", __name__)

PUBLIC_FIELDS = ("name", "ra_deg", "dec_deg", "object_type", "magnitude", "size_major_arcmin",
                 "size_minor_arcmin", "constellation", "catalog_id", "common_names")


def public_targets() -> list[dict]:
    """Each public target's catalogue fields, its accepted light frames and the FITS OBJECT names used."""
    rows = []
    for target in db().scalars(select(Target).where(Target.public.is_(True)).order_by(Target.name)):
        lights = (Frame.target_name == target.name, Frame.frame_type == "light", Frame.accepted.is_(True))
        count, seconds = db().execute(select(func.count(Frame.id), func.sum(Frame.exposure_s)).where(*lights)).one()
        names = db().scalars(select(Frame.object_name).where(*lights, Frame.object_name.is_not(None))
                             .distinct().order_by(Frame.object_name).limit(10))
        item = {field: getattr(target, field) for field in PUBLIC_FIELDS}
        item.update(frames=count, exposure_hours=round((seconds or 0) / 3600, 2), recorded_as=list(names))
        rows.append(item)
    return rows


@bp.get("/public/targets")
def targets():
    return render_template("public/targets.html", targets=public_targets())


@bp.get("/api/v1/public/targets")
def api_targets():
    return jsonify(items=public_targets())
