"""Tonight: the night planner for one telescope node and its site, and the button that sends it."""
from __future__ import annotations

import secrets
from datetime import date, timezone

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, HiddenField
from wtforms.validators import InputRequired

from common.ekos.from_job import EkosOptions, job_archive
from common.jobs import send_schedule
from master.models import SentSchedule, TelescopeNode
from master.missed_blocks import blocks_as_sent, missed_blocks
from master.night_record import frames_ran, job_outcome, sent_tonight, unsafe_stretches
from master.tonight import (NothingToSend, block_times, current_night, last_sent, plan_tonight, replan_conditions,
                            site_zone,
                            utc_now)
from .context import db, services
from .forms import flash_errors
from .timeline import build_timeline

bp = Blueprint("tonight", __name__)


class SendForm(FlaskForm):
    node_id = HiddenField(validators=[InputRequired()])
    night = DateField(validators=[InputRequired()])


def _bindings() -> list[TelescopeNode]:
    return list(db().scalars(select(TelescopeNode).order_by(TelescopeNode.node_name)))


def _choose(bindings: list[TelescopeNode], node_id) -> TelescopeNode | None:
    return next((b for b in bindings if str(b.id) == str(node_id)), bindings[0] if bindings else None)


def _night(text: str | None, binding: TelescopeNode) -> tuple[date, str | None]:
    if text:
        try:
            return date.fromisoformat(text), None
        except ValueError:
            return current_night(binding), f"date {text!r} is not a date like 2026-12-01; showing tonight"
    return current_night(binding), None


@bp.get("/tonight")
def index():
    bindings = _bindings()
    binding = _choose(bindings, request.args.get("node"))
    if binding is None:
        return render_template("tonight/index.html", bindings=[], binding=None)
    night, problem = _night(request.args.get("date"), binding)
    if problem:
        flash(problem, "error")
    tonight = plan_tonight(db(), binding, night)
    sent = list(db().scalars(select(SentSchedule).where(SentSchedule.node_name == binding.node_name)
                             .order_by(SentSchedule.sent_at.desc()).limit(10)))
    zone = site_zone(binding)
    ran, unsafe, missed = _what_ran(binding, tonight, night, zone)
    return render_template("tonight/index.html", bindings=bindings, binding=binding, tonight=tonight, zone=zone,
                           timeline=build_timeline(tonight, zone, ran, unsafe), sent=sent, night=night, missed=missed,
                           form=SendForm(node_id=binding.id, night=night), job=_preview(tonight),
                           is_tonight=night == current_night(binding))


def _what_ran(binding, tonight, night, zone):
    """Frames taken and unsafe stretches over the chart's hours, and the planned blocks that did not run."""
    start, end = tonight.sky.times[0], tonight.sky.times[-1] + tonight.sky.step
    ran = frames_ran(db(), binding.node_name, start, end)
    unsafe = unsafe_stretches(db(), start, end)
    sent = sent_tonight(db(), binding.node_name, night)
    state, reason = job_outcome(db(), sent[-1].job_id if sent else None)
    replans = [(s.sent_at if s.sent_at.tzinfo else s.sent_at.replace(tzinfo=timezone.utc), s.replan_reason)
               for s in sent if s.replan_reason]
    missed = missed_blocks(blocks_as_sent(sent) or tonight.plan.blocks, ran, utc_now(), unsafe=unsafe, job_state=state, job_reason=reason,
                           replanned=replans, zone=zone) if sent else {}
    return ran, unsafe, missed


def _preview(tonight):
    try:
        return tonight.job("preview")
    except NothingToSend:
        return None


def _posted():
    """(form, binding, where to go back) of a Send or Re-plan post; binding None when it is refused."""
    form = SendForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return form, None, redirect(url_for("tonight.index"))
    binding = _choose(_bindings(), form.node_id.data)
    if binding is None or str(binding.id) != form.node_id.data:
        flash("That telescope node is no longer bound; choose another", "error")
        return form, None, redirect(url_for("tonight.index"))
    return form, binding, redirect(url_for("tonight.index", node=binding.id, date=form.night.data.isoformat()))


@bp.post("/tonight/send")
def send():
    form, binding, back = _posted()
    if binding is None:
        return back
    try:
        tonight = plan_tonight(db(), binding, form.night.data)
        job = tonight.job()
    except NothingToSend as exc:
        flash(f"Nothing sent: {exc}", "error")
        return back
    if _send(binding, form.night.data, job, blocks=tonight.plan.blocks):
        count = len(job.targets)
        flash(f"Schedule {job.job_id} sent to {job.node}: {count} target{'' if count == 1 else 's'}", "ok")
    return back


@bp.post("/tonight/replan")
def replan():
    """Plan the rest of tonight from now, around the clouded parts of the newest cloud map, and send
    it to replace the schedule sent last (the node stops that one and goes on with this one)."""
    form, binding, back = _posted()
    if binding is None:
        return back
    if form.night.data != current_night(binding):
        flash("Only tonight can be re-planned (from now); send another night's plan instead", "error")
        return back
    conditions = replan_conditions(db())
    previous = last_sent(db(), binding.node_name, form.night.data)
    try:
        tonight = plan_tonight(db(), binding, form.night.data, conditions)
        job = tonight.job(job_id=f"replan-{form.night.data.isoformat()}-{secrets.token_hex(4)}",
                          replaces=previous.job_id if previous else None)
    except NothingToSend as exc:
        flash(f"Nothing sent: {exc}", "error")
        return back
    clouds = conditions.clouds
    cover = ("no recent cloud map" if clouds is None else
             f"cloud map of {clouds.source} at {clouds.taken_at:%H:%M} UTC: "
             f"{sum(1 for r in clouds.regions if (r.cloud_fraction or 0) >= conditions.cloud_limit)} of "
             f"{len(clouds.regions)} regions avoided")
    if _send(binding, form.night.data, job, f"by hand ({cover})", blocks=tonight.plan.blocks):
        replaced = f", replacing {previous.job_id}" if previous else ""
        flash(f"Re-planned from {conditions.start:%H:%M} UTC ({cover}): {job.job_id} sent to {job.node}{replaced}", "ok")
    return back


def _send(binding: TelescopeNode, night: date, job, replan_reason: str | None = None, *, blocks=()) -> bool:
    try:
        send_schedule(services().job_broker, job)
    except Exception as exc:  # the broker is down or refuses: say so, record nothing
        current_app.logger.exception("could not send schedule %s", job.job_id)
        flash(f"Could not send the schedule to {binding.node_name}: {exc}", "error")
        return False
    db().add(SentSchedule(job_id=job.job_id, node_name=job.node, night=night, site_name=binding.site.name,
                          sent_by=current_user.username, sent_at=job.sent_at, job=job.to_wire(), replan_reason=replan_reason,
                          blocks=block_times(blocks)))
    db().commit()
    return True


@bp.get("/tonight/ekos.zip")
def ekos():
    """Tonight's schedule as EKOS files, for a KStars that OBSY does not drive itself."""
    binding = _choose(_bindings(), request.args.get("node"))
    if binding is None:
        abort(404)
    try:
        night = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        abort(400, "date must look like 2026-12-01")
    fields = {name: request.args.get(name, "").strip() for name in ("files_dir", "capture_dir", "profile")}
    for name in ("files_dir", "capture_dir"):
        if not fields[name].startswith("/"):
            abort(400, f"{name} must be an absolute folder on the KStars machine")
    if not fields["profile"]:
        abort(400, "profile is needed")
    try:
        job = plan_tonight(db(), binding, night).job()
    except NothingToSend as exc:
        abort(404, f"nothing planned: {exc}")
    options = EkosOptions(capture_dir=fields["capture_dir"], profile=fields["profile"], enforce_twilight=True)
    data = job_archive(job, options, fields["files_dir"])
    name = f"obsy-{binding.node_name}-{night.isoformat()}-ekos.zip"
    return Response(data, mimetype="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'})
