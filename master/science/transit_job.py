"""The transit_fit job: one ``transit_fits`` request → fitted values and an AAVSO exoplanet report.

The light curve is the photometry run's ``lightcurve_csv`` product. The prior mid-time may be from
any epoch (the archive's is often years old): it is moved by whole periods to the transit nearest
the middle of the series. A request that cannot be fitted ends ``failed`` with the reason; it is not
retried, since the same curve and priors would fail again.
"""
from __future__ import annotations

import logging
import statistics
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select

from common.contracts import InvalidMessage, TransitJob, parse_message
from master.models import Frame, PhotometryRun, Product, ProductInput, TransitFitRequest
from .lightcurve_csv import parse_lightcurve_csv, transit_arrays
from .products import products_of_run, store_product
from .transit import TransitParams, fit_transit, format_exotic_report

log = logging.getLogger(__name__)

__all__ = ["run_transit_job", "nearest_epoch", "fit_summary"]


def nearest_epoch(t0: float, period: float, times) -> float:
    """The mid-transit time t0 + n·period nearest the middle of ``times``."""
    middle = (float(min(times)) + float(max(times))) / 2
    return t0 + round((middle - t0) / period) * period


def fit_summary(fit) -> dict:
    """What the portal shows and plots of a fit (JSON-safe numbers)."""
    clean = lambda d: {k: (float(v) if v == v else None) for k, v in d.items()}  # noqa: E731 (NaN is not JSON)
    rp, rp_err = fit.values["rp"], fit.errors["rp"]
    return {"values": clean(fit.values), "errors": clean(fit.errors), "depth": float(fit.depth),
            "depth_err": float(2 * rp * rp_err) if rp_err == rp_err else None,
            "duration_h": float(fit.duration * 24),
            "duration_err_h": float(fit.duration_err * 24) if fit.duration_err == fit.duration_err else None,
            "chi2": float(fit.chi2), "dof": int(fit.dof), "method": fit.method, "points": int(len(fit.time)),
            "airmass_mean": float(fit.airmass_mean)}


def _median_flux(curve: dict) -> float:
    usable = (np.isfinite(curve["flux"]) & np.isfinite(curve["flux_err"]) & (curve["flux_err"] > 0)
              & np.isfinite(curve["time"]))
    return float(np.median(curve["flux"][usable]))


def _fail(services, fit_id: int, reason: str) -> str:
    with services.sessions() as session:
        row = session.get(TransitFitRequest, fit_id)
        row.state, row.reason, row.finished_at = "failed", reason[:1000], datetime.now(timezone.utc)
        session.commit()
    log.info("transit fit %s failed: %s", fit_id, reason)
    return "failed"


def _exposure_s(session, product: Product) -> float:
    exposures = session.scalars(select(Frame.exposure_s).join(ProductInput, ProductInput.frame_id == Frame.id)
                                .where(ProductInput.product_id == product.id)).all()
    exposures = [e for e in exposures if e is not None]
    return float(statistics.median(exposures)) if exposures else 0.0


def run_transit_job(services, raw) -> str:
    """Fit one transit request; returns its final state."""
    job = parse_message(raw, TransitJob)
    with services.sessions() as session:
        row = session.get(TransitFitRequest, job.transit_fit_id)
        if row is None:
            raise InvalidMessage(f"no transit fit with id {job.transit_fit_id}")
        row.state, row.reason = "running", None
        session.commit()
        run = session.get(PhotometryRun, row.photometry_run_id)
        curve_product = next((p for p in products_of_run(session, run.id) if p.kind == "lightcurve_csv"), None)
        if curve_product is None:
            return _fail(services, row.id, f"photometry run {run.id} has no light curve yet")
        exposure = _exposure_s(session, curve_product)
        fit_id, run_id, priors, steps, planet = row.id, run.id, dict(row.priors), row.mcmc_steps, row.planet_name
        star, obscode, filter_name, key = run.target_name, run.obscode, run.filter_name, curve_product.key
    try:
        curve = transit_arrays(parse_lightcurve_csv(services.store.get_bytes(key).decode()))
        tc = nearest_epoch(priors["t0"], priors["period"], curve["time"])
        params = TransitParams(period=priors["period"], tc=tc, rp=priors.get("rp") or 0.1,
                               a=priors.get("a") or 10.0, inc=min(priors.get("inc") or 88.0, 90.0),
                               u1=priors.get("u1", 0.4), u2=priors.get("u2", 0.2), ecc=priors.get("ecc") or 0.0)
        fit = fit_transit(curve["time"], curve["flux"], curve["flux_err"], params, curve["airmass"],
                          mcmc_steps=steps)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        return _fail(services, fit_id, f"the transit could not be fitted: {exc}")
    report = format_exotic_report(
        fit, obscode=obscode, star_name=star, planet_name=planet, filter_name=filter_name or "CV",
        exposure_time=exposure, priors_err={"Period": priors.get("period_err"), "a/R*": priors.get("a_err"),
                                            "inc": priors.get("inc_err")},
        notes=f"priors from {priors.get('source', 'the observer')}")
    summary = fit_summary(fit)
    summary["flux_norm"] = _median_flux(curve)  # the fit works on flux over this; the plot divides by it too
    with services.sessions() as session:
        product = store_product(session, services.store, kind="aavso_exoplanet",
                                key=f"products/photometry/run-{run_id}/transit-{fit_id}-aavso_exoplanet.txt",
                                data=report.encode(), parameters={"transit_fit": fit_id, **summary},
                                photometry_run_id=run_id)
        session.flush()
        row = session.get(TransitFitRequest, fit_id)
        row.state, row.result, row.product_id = "done", summary, product.id
        row.finished_at = datetime.now(timezone.utc)
        session.commit()
    log.info("transit fit %s of run %s: Tc %.5f, depth %.5f", fit_id, run_id, fit.values["tc"], fit.depth)
    return "done"
