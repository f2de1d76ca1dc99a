"""Imaging plans: per target, rows of filter × exposure × count, with progress from accepted frames."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from master.models import ImagingPlan, PlanRow
from master.plan_progress import plan_dict, plan_progress
from .context import db, get_or_404
from .forms import flash_errors
from .plan_forms import PlanForm, RowForm

bp = Blueprint("plans", __name__)


def all_plans() -> list[ImagingPlan]:
    stmt = (select(ImagingPlan).options(selectinload(ImagingPlan.target), selectinload(ImagingPlan.rows))
            .order_by(ImagingPlan.priority, ImagingPlan.id))
    return list(db().scalars(stmt))


@bp.get("/plans")
def index():
    progress = [plan_progress(db(), plan) for plan in all_plans()]
    return render_template("plans/index.html", progress=progress, form=PlanForm().prepare(db()))


@bp.post("/plans/add")
def add():
    form = PlanForm().prepare(db())
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("plans.index"))
    plan = ImagingPlan()
    form.save(plan)
    db().add(plan)
    db().commit()
    flash(f"Plan for {plan.target.name} created: add its exposures", "ok")
    return redirect(url_for("plans.detail", plan_id=plan.id))


@bp.get("/plans/<int:plan_id>")
def detail(plan_id: int):
    plan = get_or_404(ImagingPlan, plan_id)
    form = PlanForm(obj=plan).prepare(db(), plan)
    return render_template("plans/detail.html", progress=plan_progress(db(), plan), form=form,
                           row_form=RowForm(), filter_names=RowForm.filter_names(db()), small_form=FlaskForm())


@bp.post("/plans/<int:plan_id>")
def edit(plan_id: int):
    plan = get_or_404(ImagingPlan, plan_id)
    form = PlanForm().prepare(db())
    if form.validate_on_submit():
        form.save(plan)
        db().commit()
        flash("Plan saved", "ok")
    else:
        flash_errors(form)
    return redirect(url_for("plans.detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/rows")
def add_row(plan_id: int):
    plan = get_or_404(ImagingPlan, plan_id)
    form = RowForm()
    if form.validate_on_submit():
        plan.rows.append(PlanRow(filter_name=(form.filter_name.data or "").strip() or None,
                                 exposure_s=form.exposure_s.data, count=form.count.data,
                                 binning=form.binning.data or 1, gain=form.gain.data, offset=form.offset.data))
        db().commit()
        flash("Exposures added", "ok")
    else:
        flash_errors(form)
    return redirect(url_for("plans.detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/rows/<int:row_id>/delete")
def delete_row(plan_id: int, row_id: int):
    row = get_or_404(PlanRow, row_id)
    if row.plan_id == plan_id and FlaskForm().validate_on_submit():
        db().delete(row)
        db().commit()
        flash("Exposures removed", "ok")
    return redirect(url_for("plans.detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/delete")
def remove(plan_id: int):
    plan = get_or_404(ImagingPlan, plan_id)
    if FlaskForm().validate_on_submit():
        name = plan.target.name
        db().delete(plan)
        db().commit()
        flash(f"Plan for {name} deleted", "ok")
    return redirect(url_for("plans.index"))


@bp.get("/api/v1/plans")
def api_list():
    return jsonify(items=[plan_dict(plan_progress(db(), plan)) for plan in all_plans()])


@bp.get("/api/v1/plans/<int:plan_id>")
def api_plan(plan_id: int):
    return jsonify(plan_dict(plan_progress(db(), get_or_404(ImagingPlan, plan_id))))
