"""Sites and equipment: one set of routes for every kind (sites, telescopes, cameras, filters,
telescope node bindings). Everyone logged in reads; observers and admins edit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from master.horizon import format_horizon
from master.models import Camera, Filter, Site, Telescope, TelescopeNode
from master.optics import field_of_view_arcmin, image_scale_arcsec
from . import equipment_forms as forms
from .context import db, get_or_404
from .forms import flash_errors

bp = Blueprint("equipment", __name__)


def _number(value, unit: str = "", digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".") + unit


def _train(node: TelescopeNode) -> str:
    fov = field_of_view_arcmin(node.camera, node.telescope)
    if fov is None:
        return "—"
    scale = image_scale_arcsec(node.camera.pixel_size_um, node.telescope.focal_length_mm)
    return f"{scale:.2f}″/px, {fov[0]:.0f}′ × {fov[1]:.0f}′"


@dataclass(frozen=True)
class Kind:
    model: type
    form: type[forms.EquipmentForm]
    title: str
    noun: str
    columns: tuple[tuple[str, Callable[[Any], Any]], ...]
    order_by: str = "name"

    def label(self, row) -> str:
        return getattr(row, self.order_by)


KINDS: dict[str, Kind] = {
    "sites": Kind(Site, forms.SiteForm, "Sites", "site", (
        ("Latitude", lambda s: _number(s.latitude_deg, "°", 4)), ("Longitude", lambda s: _number(s.longitude_deg, "°", 4)),
        ("Elevation", lambda s: _number(s.elevation_m, " m", 0)), ("Time zone", lambda s: s.timezone or "—"),
        ("Horizon", lambda s: format_horizon(s.horizon) or "flat"))),
    "telescopes": Kind(Telescope, forms.TelescopeForm, "Telescopes", "telescope", (
        ("Aperture", lambda t: _number(t.aperture_mm, " mm", 0)), ("Focal length", lambda t: _number(t.focal_length_mm, " mm", 0)),
        ("f/", lambda t: _number(t.focal_length_mm / t.aperture_mm, "", 1) if t.aperture_mm and t.focal_length_mm else "—"))),
    "cameras": Kind(Camera, forms.CameraForm, "Cameras", "camera", (
        ("Sensor", lambda c: f"{c.width_px} × {c.height_px} px" if c.width_px and c.height_px else "—"),
        ("Pixel", lambda c: _number(c.pixel_size_um, " µm")), ("Gain", lambda c: _number(c.gain_default)),
        ("Offset", lambda c: _number(c.offset_default)))),
    "filters": Kind(Filter, forms.FilterForm, "Filters", "filter", ()),
    "nodes": Kind(TelescopeNode, forms.TelescopeNodeForm, "Telescope nodes", "telescope node", (
        ("Site", lambda n: n.site.name), ("Telescope", lambda n: n.telescope.name if n.telescope else "—"),
        ("Camera", lambda n: n.camera.name if n.camera else "—"),
        ("Filters", lambda n: ", ".join(f.name for f in n.filters) or "—"), ("Scale and field", _train)),
        order_by="node_name"),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        abort(404)
    return KINDS[name]


def _form(kind: Kind) -> forms.EquipmentForm:
    form = kind.form()
    form.prepare(db())
    return form


def _commit(kind: Kind, row, done: str) -> bool:
    """Commit, turning a clash with the database (a taken name, a row still in use) into a message."""
    label = kind.label(row)  # read now: a rollback expires the row
    try:
        db().commit()
        flash(f"{kind.noun.capitalize()} {label} {done}", "ok")
        return True
    except IntegrityError:
        db().rollback()
        if done == "deleted":
            flash(f"{kind.noun.capitalize()} {label} is still in use (bound to a telescope node?)", "error")
        else:
            flash(f"A {kind.noun} named {label} already exists", "error")
        return False


@bp.get("/equipment")
def index():
    panels = []
    for name, kind in KINDS.items():
        rows = list(db().scalars(select(kind.model).order_by(getattr(kind.model, kind.order_by))))
        panels.append((name, kind, rows, _form(kind)))
    return render_template("equipment/index.html", panels=panels)


@bp.post("/equipment/<kind_name>/add")
def add(kind_name: str):
    kind = _kind(kind_name)
    form = _form(kind)
    if form.validate_on_submit():
        row = kind.model()
        form.save(row, db())
        db().add(row)
        _commit(kind, row, "added")
    else:
        flash_errors(form)
    return redirect(url_for("equipment.index", _anchor=kind_name))


@bp.get("/equipment/<kind_name>/<int:item_id>")
def item(kind_name: str, item_id: int):
    kind = _kind(kind_name)
    row = get_or_404(kind.model, item_id)
    form = _form(kind)
    form.load(row)
    return render_template("equipment/edit.html", kind_name=kind_name, kind=kind, row=row, form=form,
                           delete_form=FlaskForm())


@bp.post("/equipment/<kind_name>/<int:item_id>")
def edit(kind_name: str, item_id: int):
    kind = _kind(kind_name)
    row = get_or_404(kind.model, item_id)
    form = _form(kind)
    if form.validate_on_submit():
        form.save(row, db())
        if _commit(kind, row, "saved"):
            return redirect(url_for("equipment.index", _anchor=kind_name))
    else:
        flash_errors(form)
    return redirect(url_for("equipment.item", kind_name=kind_name, item_id=item_id))


@bp.post("/equipment/<kind_name>/<int:item_id>/delete")
def remove(kind_name: str, item_id: int):
    kind = _kind(kind_name)
    row = get_or_404(kind.model, item_id)
    if FlaskForm().validate_on_submit():
        db().delete(row)
        _commit(kind, row, "deleted")
    return redirect(url_for("equipment.index", _anchor=kind_name))
