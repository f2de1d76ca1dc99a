"""Photometry runs in the portal: start one (observers), follow it, see and download its light curve."""
from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from common import names
from common.contracts import PhotometryJob, TransitJob
from common.jobs import send_science_job
from master.ingest.filing import target_name
from master.models import Frame, PhotometryRun, Product, TransitFitRequest
from master.science.lightcurve_csv import parse_lightcurve_csv
from master.science.products import products_of_run
from master.science.comparison_file import parse_catalogue
from master.science.run_request import RequestError, parse_aperture, parse_comparisons
from master.science.transit_request import transit_request
from master.science.vsp import vsp_comparisons
from .context import db, get_or_404, services
from .lightcurve_plot import lightcurve_plot
from .transit_plot import transit_plot
from .sending import send_object

bp = Blueprint("science", __name__)
MIMETYPES = {".csv": "text/csv", ".txt": "text/plain", ".png": "image/png", ".fits": "application/fits"}


def _targets() -> list[str]:
    query = (select(Frame.target_name).where(Frame.frame_type == "light", Frame.target_name.is_not(None))
             .distinct().order_by(Frame.target_name))
    return list(db().scalars(query))


@bp.get("/photometry")
def runs():
    rows = db().scalars(select(PhotometryRun).order_by(PhotometryRun.id.desc()).limit(200)).all()
    # the viewer's "Photometry with these" link fills the form with the stars picked there
    prefill = {name: request.args.get(name, "")[:4000] for name in ("target", "ra", "dec", "x", "y", "comparisons")}
    return render_template("science/runs.html", runs=rows, targets=_targets(), prefill=prefill)


def _optional_float(name: str) -> float | None:
    text = request.form.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RequestError(f"{name} {text!r} is not a number") from None


def _comparisons_from_form() -> tuple[list[dict] | None, str]:
    """Typed lines first, then an uploaded catalogue file, then an AAVSO VSP chart; none: automatic."""
    typed = parse_comparisons(request.form.get("comparisons", ""))
    if typed:
        return typed, "typed"
    band = request.form.get("band", "V").strip() or "V"
    upload = request.files.get("catalogue")
    if upload is not None and upload.filename:
        return parse_catalogue(upload.read(2_000_001)[:2_000_000], band), f"catalogue file {upload.filename[:80]}"
    star = request.form.get("vsp_star", "").strip()
    if star:
        fov = _optional_float("vsp_fov") or 30.0
        maglimit = _optional_float("vsp_maglimit") or 16.0
        return vsp_comparisons(db(), services().config.catalog, star, band, fov, maglimit)
    return None, "automatic"


def _run_from_form() -> PhotometryRun:
    name = target_name(request.form.get("target_name", ""))
    if not name:
        raise RequestError("choose the target whose frames to measure")
    ra, dec = _optional_float("ra"), _optional_float("dec")
    x, y = _optional_float("x"), _optional_float("y")
    if (ra is None or dec is None) and (x is None or y is None):
        raise RequestError("give the target's RA and Dec (degrees), or its pixel position")
    aperture, inner, outer = parse_aperture(request.form.get("aperture_fwhm", "1.75"),
                                            request.form.get("annulus_inner_fwhm", "3"),
                                            request.form.get("annulus_outer_fwhm", "5"))
    comparisons, source = _comparisons_from_form()
    if comparisons is not None and source != "typed":
        flash(f"{len(comparisons)} comparison stars from {source}", "ok")
    return PhotometryRun(target_name=name[:200], ra_deg=ra, dec_deg=dec, target_x=x, target_y=y,
                         comparisons=comparisons,
                         aperture_fwhm=aperture, annulus_inner_fwhm=inner, annulus_outer_fwhm=outer,
                         filter_name=(request.form.get("filter_name", "").strip() or None),
                         obscode=(request.form.get("obscode", "").strip() or "na")[:20],
                         follow=request.form.get("follow") == "1",
                         created_by=current_user.username, state="queued")


@bp.post("/photometry")
def start_run():
    try:
        run = _run_from_form()
    except RequestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("science.runs"))
    if _queued(run, names.PHOTOMETRY_ACTOR, lambda: PhotometryJob(run_id=run.id)):
        flash(f"photometry run {run.id} queued", "ok")
    return redirect(url_for("science.run", run_id=run.id))


def _queued(row, actor: str, job) -> bool:
    """Add ``row`` and queue ``job()`` for it; when the broker is down the row stays, marked failed
    with the reason (flashed), so nobody waits for it."""
    db().add(row)
    db().commit()
    try:
        send_science_job(services().job_broker, actor, job())
    except Exception as exc:
        row.state, row.reason = "failed", f"the job could not be queued: {exc}"
        db().commit()
        flash(row.reason, "error")
        return False
    return True


@bp.get("/photometry/<int:run_id>")
def run(run_id: int):
    row = get_or_404(PhotometryRun, run_id)
    products = products_of_run(db(), run_id)
    curve = next((p for p in products if p.kind == "lightcurve_csv"), None)
    points = parse_lightcurve_csv(services().store.get_bytes(curve.key).decode()) if curve else []
    fits = db().scalars(select(TransitFitRequest).where(TransitFitRequest.photometry_run_id == run_id)
                        .order_by(TransitFitRequest.id.desc())).all()
    fit_plots = {f.id: transit_plot(points, f.priors, f.result) for f in fits if f.state == "done"}
    return render_template("science/run.html", run=row, products=products, plot=lightcurve_plot(points),
                           flagged=sum(1 for p in points if not p["good"]), count=len(points),
                           fits=fits, fit_plots=fit_plots)


@bp.post("/photometry/<int:run_id>/transit")
def fit_transit(run_id: int):
    row = get_or_404(PhotometryRun, run_id)
    try:
        planet, priors, steps = transit_request(request.form, db(), services().config.catalog)
    except RequestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("science.run", run_id=row.id))
    fit = TransitFitRequest(photometry_run_id=row.id, planet_name=planet, priors=priors, mcmc_steps=steps,
                            created_by=current_user.username, state="queued")
    if _queued(fit, names.TRANSIT_ACTOR, lambda: TransitJob(transit_fit_id=fit.id)):
        flash(f"transit fit {fit.id} queued (priors from {priors['source']})", "ok")
    return redirect(url_for("science.run", run_id=row.id))


@bp.get("/products/<int:product_id>/download")
def download(product_id: int):
    product = get_or_404(Product, product_id)
    name = PurePath(product.key).name
    if product.photometry_run_id is not None:
        name = f"run-{product.photometry_run_id}-{name}"
    mimetype = MIMETYPES.get(PurePath(name).suffix)
    if mimetype is None:
        abort(404)
    return send_object(product.key, name, mimetype)
