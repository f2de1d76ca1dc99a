"""A fitted transit as SVG geometry: the detrended relative flux and the model through it."""
from __future__ import annotations

import numpy as np

from master.science.transit import transit_model
from .lightcurve_plot import Plot, series_plot

MODEL_POINTS = 400


def transit_plot(rows: list[dict], priors: dict, result: dict) -> Plot | None:
    """Points: relative flux over its median and the fitted airmass trend (c0 + c1·(X − X̄)); line: the model."""
    rows = [r for r in rows if r.get("bjd_tdb") is not None and r.get("rel_flux") is not None]
    if not rows or not result:
        return None
    v = result["values"]
    airmass = np.array([r.get("airmass") or result["airmass_mean"] for r in rows])
    trend = result.get("flux_norm", 1.0) * (v["c0"] + v["c1"] * (airmass - result["airmass_mean"]))
    times = [r["bjd_tdb"] for r in rows]
    flux = np.array([r["rel_flux"] for r in rows]) / trend
    errs = np.array([r.get("rel_flux_err") or 0.0 for r in rows]) / trend
    dense = np.linspace(min(times), max(times), MODEL_POINTS)
    model = transit_model(dense, v["tc"], v["rp"], v["a"], v["inc"], priors["period"],
                          (priors.get("u1", 0.4), priors.get("u2", 0.2)), priors.get("ecc") or 0.0)
    return series_plot(times, flux.tolist(), errs.tolist(), [bool(r.get("good", True)) for r in rows],
                       "relative flux (detrended)", line=(dense.tolist(), model.tolist()))
