"""Targets: search the offline catalogue, add by name or coordinates, CSV in and out."""
from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from master.catalog import lookup
from master.models import Target
from master.target_files import TargetFileError, parse_target_file
from master.target_import import import_targets
from master.targets import TargetError, add_by_coordinates, add_from_catalog, export_csv
from . import stacks
from .context import db, get_or_404, services
from .target_page import target_sky

bp = Blueprint("targets", __name__)
MAX_IMPORT_BYTES = 5_000_000


class CoordinatesForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    ra = StringField("RA (J2000)", validators=[DataRequired()], description="10:41:02 (hours) or 160.26 (degrees)")
    dec = StringField("Dec (J2000)", validators=[DataRequired()], description="+41:16:09 or 41.27")
    tags = StringField("Tags", description="comma separated")
    public = BooleanField("Public")
    notes = TextAreaField("Notes")


class CatalogAddForm(FlaskForm):
    catalog_name = StringField("Catalogue name", validators=[DataRequired(), Length(max=200)])
    query = StringField("Searched for", validators=[Length(max=200)])  # finds an online result again, in the cache


def _search(query: str, limit: int = 20) -> lookup.SearchOutcome:
    return lookup.search(db(), services().config.catalog, query, limit)


class ImportForm(FlaskForm):
    file = FileField("KStars observing list (OAL .obslist/.xml) or CSV", validators=[FileRequired()])
    tags = StringField("Tags for every imported target", description="comma separated")
    public = BooleanField("Public (where the file does not say)")
    update = BooleanField("Update targets that already exist")
    skip_bad = BooleanField("Import the good entries even if some are bad")


def _targets() -> list[Target]:
    return list(db().scalars(select(Target).order_by(Target.name)))


@bp.get("/targets")
def index():
    query = request.args.get("q", "").strip()
    outcome = _search(query) if query else None
    return render_template("targets/index.html", targets=_targets(), query=query, outcome=outcome,
                           coords_form=CoordinatesForm(), add_form=CatalogAddForm(), import_form=ImportForm())


@bp.post("/targets/from-catalog")
def add_catalog():
    form = CatalogAddForm()
    if form.validate_on_submit():
        outcome = _search(form.query.data or form.catalog_name.data)
        entry = outcome.find(form.catalog_name.data) or (outcome.entries[0] if not form.query.data and
                                                         outcome.entries else None)
        if entry is None:
            flash(outcome.notice or f"{form.catalog_name.data!r} is not in the catalogue", "error")
        else:
            try:
                target = add_from_catalog(db(), entry)
                db().commit()
                flash(f"{target.name} added", "ok")
                return redirect(url_for("targets.detail", target_id=target.id))
            except TargetError as exc:
                db().rollback()
                flash(str(exc), "error")
    return redirect(url_for("targets.index"))


@bp.post("/targets/by-coordinates")
def add_coordinates():
    form = CoordinatesForm()
    if form.validate_on_submit():
        try:
            tags = sorted({t.strip() for t in (form.tags.data or "").split(",") if t.strip()}) or None
            target = add_by_coordinates(db(), form.name.data, form.ra.data, form.dec.data, tags=tags,
                                        public=form.public.data, notes=form.notes.data or None)
            db().commit()
            flash(f"{target.name} added", "ok")
            return redirect(url_for("targets.detail", target_id=target.id))
        except TargetError as exc:
            db().rollback()
            flash(str(exc), "error")
    else:
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
    return redirect(url_for("targets.index"))


@bp.get("/targets/<int:target_id>")
def detail(target_id: int):
    target = get_or_404(Target, target_id)
    filters, nights = stacks.frame_choices(target)
    return render_template("targets/detail.html", target=target, view=target_sky(target, request.args),
                           filters=filters, nights=nights, stack_products=stacks.stacks_of(target))


@bp.post("/targets/<int:target_id>/delete")
def delete(target_id: int):
    form = FlaskForm()
    if form.validate_on_submit():
        target = get_or_404(Target, target_id)
        db().delete(target)
        db().commit()
        flash(f"{target.name} deleted", "ok")
    return redirect(url_for("targets.index"))


@bp.get("/targets/export.csv")
def export():
    return Response(export_csv(db()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=obsy-targets.csv"})


@bp.post("/targets/import")
def import_():
    form = ImportForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return redirect(url_for("targets.index"))
    upload = form.file.data
    raw = upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        flash(f"import failed: the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB", "error")
        return redirect(url_for("targets.index"))
    try:
        parsed = parse_target_file(raw, upload.filename or "")
    except TargetFileError as exc:
        flash(f"import failed: {exc}", "error")
        return redirect(url_for("targets.index"))
    tags = sorted({t.strip() for t in (form.tags.data or "").split(",") if t.strip()}) or None
    report = import_targets(db(), parsed, update=form.update.data, skip_bad=form.skip_bad.data, tags=tags,
                            public=True if form.public.data else None)
    if report.applied:
        db().commit()
    else:
        db().rollback()
    flash(f"{upload.filename or 'file'}: {report.summary()}", "ok" if report.applied else "error")
    for message in (report.errors + report.skipped + report.notes)[:30]:
        flash(message, "error" if message in report.errors else "info")
    return redirect(url_for("targets.index"))


@bp.get("/api/v1/targets")
def api_list():
    fields = ("id", "name", "ra_deg", "dec_deg", "object_type", "magnitude", "size_major_arcmin",
              "size_minor_arcmin", "position_angle_deg", "constellation", "catalog_id", "common_names", "tags", "public", "notes")
    return jsonify(items=[{f: getattr(t, f) for f in fields} for t in _targets()])


@bp.get("/api/v1/catalog/search")
def api_search():
    return jsonify(_search(request.args.get("q", "").strip()).to_dict())
