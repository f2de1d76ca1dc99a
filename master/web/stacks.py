"""Final stacks in the portal: start one from a target's page, see its previews, download its FITS."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, request, url_for
from sqlalchemy import or_, select

from common import names
from common.contracts import FinalStackJob
from common.jobs import send_science_job
from master.ingest.filing import target_name
from master.models import Frame, Product, Target
from master.stacking.final import scope_prefix
from .context import db, get_or_404, services
from .sending import send_object

bp = Blueprint("stacks", __name__)
PREVIEW_KINDS = ("stack_png", "colour_png")


def frame_choices(target: Target) -> tuple[list[str], list[date]]:
    """The filters and nights of the target's accepted lights, for the form."""
    name = target_name(target.name)
    where = (Frame.frame_type == "light", Frame.accepted.is_(True),
             or_(Frame.target_name == name, Frame.target_id == target.id))
    filters = db().scalars(select(Frame.filter_name).where(*where, Frame.filter_name.is_not(None)).distinct())
    nights = db().scalars(select(Frame.night).where(*where, Frame.night.is_not(None)).distinct())
    return sorted(filters), sorted(nights, reverse=True)


def stacks_of(target: Target) -> list[Product]:
    """The target's stack products (every scope), newest first."""
    prefix = scope_prefix(target_name(target.name) or target.name, None).rsplit("/", 1)[0]
    query = select(Product).where(Product.kind.in_(("stack_fits",) + PREVIEW_KINDS), Product.key.like(f"{prefix}/%"))
    return list(db().scalars(query.order_by(Product.created_at.desc(), Product.id.desc())))


@bp.post("/targets/<int:target_id>/stacks")
def start(target_id: int):
    target = get_or_404(Target, target_id)
    filters, nights = frame_choices(target)
    filter_name = request.form.get("filter_name", "").strip() or None
    night = request.form.get("night", "").strip() or None
    if filter_name is not None and filter_name not in filters:
        flash(f"no accepted light of {target.name} in filter {filter_name!r}", "error")
        return redirect(url_for("targets.detail", target_id=target_id))
    if night is not None and night not in {n.isoformat() for n in nights}:
        flash(f"no accepted light of {target.name} on the night of {night}", "error")
        return redirect(url_for("targets.detail", target_id=target_id))
    if not filters and not nights:
        flash(f"no accepted light frames of {target.name} to stack", "error")
        return redirect(url_for("targets.detail", target_id=target_id))
    job = FinalStackJob(target_name=target_name(target.name) or target.name, filter_name=filter_name, night=night,
                        method="median" if request.form.get("method") == "median" else "mean",
                        weights="none" if request.form.get("weights") == "none" else "quality")
    try:
        send_science_job(services().job_broker, names.FINAL_STACK_ACTOR, job)
    except Exception as exc:  # the broker is down: say so rather than pretend it is queued
        flash(f"the stack could not be queued: {exc}", "error")
        return redirect(url_for("targets.detail", target_id=target_id))
    scope = f"{filter_name or 'every filter'}, {night or 'every night'}"
    flash(f"stack of {target.name} ({scope}) queued; it appears below when done", "ok")
    return redirect(url_for("targets.detail", target_id=target_id))


@bp.get("/products/<int:product_id>/preview.png")
def preview(product_id: int):
    product = get_or_404(Product, product_id)
    if product.kind not in PREVIEW_KINDS:
        abort(404)
    response = send_object(product.key, f"product-{product.id}.png", "image/png")
    response.headers["Content-Disposition"] = "inline"
    return response
