"""Exoplanet transit fit and the AAVSO exoplanet report (the format EXOTIC writes).

Model: Mandel & Agol transit with quadratic limb darkening (``batman-package``), circular orbit
unless an eccentricity is given, times BJD_TDB, times a detrending factor linear in airmass:

    flux(t) = transit(t; Tc, Rp/Rs, a/Rs, inc) * (c0 + c1 * (X(t) - X_mean))

Free parameters are Tc, Rp/Rs, a/Rs, inc (degrees, at most 90), c0 and c1; the period and the limb
darkening coefficients are fixed (priors from the literature, as EXOTIC does). The fit is a bounded
least-squares fit (scipy ``least_squares``) whose covariance (``(J^T J)^-1`` scaled by the reduced
chi-square when that is above 1) gives first uncertainties; ``mcmc_steps`` > 0 then runs emcee around
the best fit with flat priors inside the bounds, and the uncertainties become half the 16-84
percentile width of the chains. The duration reported is T14, first to fourth contact.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["TransitParams", "TransitFit", "transit_model", "fit_transit", "transit_duration",
           "format_exotic_report", "parse_exotic_report"]

PARAM_NAMES = ("tc", "rp", "a", "inc", "c0", "c1")


@dataclass
class TransitParams:
    """Fixed orbit and star parameters, and starting values for the free ones."""

    period: float  # days
    tc: float  # BJD_TDB, first guess of the mid-time
    rp: float = 0.1  # Rp/Rs first guess
    a: float = 10.0  # a/Rs first guess
    inc: float = 88.0  # degrees, first guess
    u1: float = 0.4  # quadratic limb darkening
    u2: float = 0.2
    ecc: float = 0.0
    w: float = 90.0  # argument of periastron, degrees


def transit_model(t: np.ndarray, tc: float, rp: float, a: float, inc: float, period: float,
                  u: Sequence[float] = (0.4, 0.2), ecc: float = 0.0, w: float = 90.0) -> np.ndarray:
    """Relative flux of a transit (1 out of transit), quadratic limb darkening."""
    import batman

    params = batman.TransitParams()
    params.t0, params.per, params.rp, params.a, params.inc = tc, period, rp, a, inc
    params.ecc, params.w, params.limb_dark, params.u = ecc, w, "quadratic", list(u)
    return batman.TransitModel(params, np.asarray(t, dtype=np.float64)).light_curve(params)


def transit_duration(period: float, rp: float, a: float, inc: float) -> float:
    """T14 in days for a circular orbit (Seager & Mallen-Ornelas 2003, eq. 3); 0 if no transit."""
    i = math.radians(inc)
    b = a * math.cos(i)
    arg = math.sqrt(max((1 + rp) ** 2 - b * b, 0.0)) / (a * math.sin(i))
    return period / math.pi * math.asin(min(arg, 1.0))


@dataclass
class TransitFit:
    values: dict[str, float]
    errors: dict[str, float]
    duration: float  # T14, days
    duration_err: float
    chi2: float
    dof: int
    method: str  # "least_squares" or "emcee"
    params: TransitParams
    time: np.ndarray = field(repr=False, default=None)
    flux: np.ndarray = field(repr=False, default=None)
    flux_err: np.ndarray = field(repr=False, default=None)
    airmass: np.ndarray = field(repr=False, default=None)
    airmass_mean: float = 1.0
    chains: np.ndarray | None = field(repr=False, default=None)

    @property
    def depth(self) -> float:
        return self.values["rp"] ** 2

    def detrend(self) -> np.ndarray:
        """Airmass correction factor of each point relative to c0 (1 at the mean airmass)."""
        v = self.values
        return 1.0 + v["c1"] / v["c0"] * (self.airmass - self.airmass_mean)

    def model(self, t: np.ndarray | None = None) -> np.ndarray:
        v, p = self.values, self.params
        t = self.time if t is None else t
        return transit_model(t, v["tc"], v["rp"], v["a"], v["inc"], p.period, (p.u1, p.u2), p.ecc, p.w)


def _bounds(params: TransitParams, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = float(t.max() - t.min())
    lo = np.array([params.tc - 0.5 * span, 1e-3, 1.2, 60.0, 0.5, -1.0])
    hi = np.array([params.tc + 0.5 * span, 0.5, 200.0, 90.0, 1.5, 1.0])
    return lo, hi


def fit_transit(time: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, params: TransitParams,
                airmass: np.ndarray | None = None, *, mcmc_steps: int = 0, mcmc_walkers: int = 24,
                mcmc_burn: float = 0.5, seed: int = 0) -> TransitFit:
    """Fit a transit with airmass detrending (see the module docstring)."""
    from scipy.optimize import least_squares

    t = np.asarray(time, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    e = np.asarray(flux_err, dtype=np.float64)
    x = np.ones_like(t) if airmass is None else np.asarray(airmass, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0) & np.isfinite(x)
    t, f, e, x = t[ok], f[ok], e[ok], x[ok]
    if len(t) < 10:
        raise ValueError("a transit fit needs at least 10 good points")
    x_mean = float(np.mean(x))
    dx = x - x_mean
    norm = float(np.median(f))
    f, e = f / norm, e / norm

    # the mid-time is fitted as an offset from the first guess: finite-difference steps relative to
    # a full Julian date would be hours long
    t_ref = float(params.tc)

    def model(theta):
        dtc, rp, a, inc, c0, c1 = theta
        transit = transit_model(t, t_ref + dtc, rp, a, inc, params.period, (params.u1, params.u2), params.ecc,
                                params.w)
        return transit * (c0 + c1 * dx)

    def resid(theta):
        return (f - model(theta)) / e

    lo, hi = _bounds(params, t)
    lo[0] -= t_ref
    hi[0] -= t_ref
    start = np.clip([0.0, params.rp, params.a, min(params.inc, 90.0), 1.0, 0.0], lo + 1e-9, hi - 1e-9)
    scale = np.array([1e-3, 1e-2, 1.0, 1.0, 1e-3, 1e-3])
    best = None
    # a few starts in mid-time: the chi-square surface has flat regions away from the transit
    for dt in (0.0, -0.01, 0.01):
        x0 = start.copy()
        x0[0] = np.clip(x0[0] + dt, lo[0] + 1e-9, hi[0] - 1e-9)
        res = least_squares(resid, x0, bounds=(lo, hi), x_scale=scale, method="trf")
        if best is None or res.cost < best.cost:
            best = res
    theta = best.x
    chi2 = float(2 * best.cost)
    # a parameter the data cannot move (c1 when the airmass never changes, or no airmass was given)
    # leaves a zero column in the Jacobian: it is left out of the covariance and its error is 0
    used = np.linalg.norm(best.jac, axis=0) > 0
    dof = max(len(t) - int(used.sum()), 1)
    try:
        cov = np.zeros((len(theta), len(theta)))
        jac = best.jac[:, used]
        cov[np.ix_(used, used)] = np.linalg.inv(jac.T @ jac) * max(chi2 / dof, 1.0)
        errors = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        cov, errors = None, np.full(len(theta), np.nan)
    method, chains = "least_squares", None
    if mcmc_steps > 0:
        import emcee

        def log_prob(th):
            if np.any(th < lo) or np.any(th > hi):
                return -np.inf
            r = resid(th)
            return -0.5 * float(r @ r)

        rng = np.random.default_rng(seed)
        spread = np.where(np.isfinite(errors) & (errors > 0), errors, scale) * 0.5
        p0 = theta + spread * rng.standard_normal((mcmc_walkers, len(theta)))
        p0 = np.clip(p0, lo + 1e-9, hi - 1e-9)
        sampler = emcee.EnsembleSampler(mcmc_walkers, len(theta), log_prob)
        sampler.random_state = np.random.RandomState(seed).get_state()  # reproducible chains
        sampler.run_mcmc(p0, mcmc_steps, progress=False)
        chains = sampler.get_chain(discard=int(mcmc_steps * mcmc_burn), flat=True)
        lo_q, med, hi_q = np.percentile(chains, [15.865, 50, 84.135], axis=0)
        errors = (hi_q - lo_q) / 2.0
        method = "emcee"
    values = dict(zip(PARAM_NAMES, map(float, theta)))
    values["tc"] += t_ref
    errs = dict(zip(PARAM_NAMES, map(float, errors)))
    duration = transit_duration(params.period, values["rp"], values["a"], values["inc"])
    if chains is not None:
        durations = [transit_duration(params.period, c[1], c[2], c[3]) for c in chains[:: max(1, len(chains) // 2000)]]
        duration_err = float(np.std(durations))
    else:  # linear propagation through the covariance (a/Rs and inc are strongly correlated)
        v = [values["rp"], values["a"], values["inc"]]
        grad = np.zeros(len(theta))
        for k in range(3):
            h = 1e-6 * max(abs(v[k]), 1e-3)
            moved = list(v)
            moved[k] += h
            grad[k + 1] = (transit_duration(params.period, *moved) - duration) / h
        duration_err = float(math.sqrt(max(grad @ cov @ grad, 0.0))) if cov is not None else float("nan")
    return TransitFit(values, errs, duration, duration_err, chi2, dof, method, params, t, f, e, x, x_mean, chains)


# --------------------------------------------------------------------------- AAVSO exoplanet report


def _fmt(value: float, digits: int = 6) -> str:
    return f"{value:.{digits}g}" if value is not None and np.isfinite(value) else "null"


def format_exotic_report(fit: TransitFit, *, obscode: str, star_name: str, planet_name: str, filter_name: str,
                         exposure_time: float, binning: str = "1x1", software: str = "OBSY",
                         secondary_obscodes: str = "", comp_star: dict | None = None, notes: str = "",
                         filter_xc: dict | None = None, priors_err: dict | None = None) -> str:
    """An AAVSO exoplanet report, with the header fields and the columns EXOTIC writes.

    Data lines are DATE (BJD_TDB), DIFF (relative flux normalised by c0, airmass trend still in),
    ERR, DETREND_1 (airmass) and DETREND_2 (the airmass correction factor, 1 at the mean airmass).
    ``Am1``/``Am2`` in RESULTS are the detrending coefficients c0 and c1 of this module's linear
    airmass model (EXOTIC's own model is exponential; the meaning is given in DETREND_PARAMETERS).
    """
    p, v, e = fit.params, fit.values, fit.errors
    pe = priors_err or {}
    priors = {"Period": (p.period, pe.get("Period"), "days"), "a/R*": (v["a"], pe.get("a/R*"), None),
              "inc": (v["inc"], pe.get("inc"), "degrees"), "ecc": (p.ecc, None, None),
              "u0": (p.u1, None, None), "u1": (p.u2, None, None)}
    priors_line = ",".join(f"{k}={_fmt(val)}" + (f" +/- {_fmt(err)}" if err is not None else "")
                           for k, (val, err, _) in priors.items())
    priors_xc = {k: {"value": _fmt(val), "uncertainty": _fmt(err) if err is not None else None,
                     **({"units": units} if units else {})} for k, (val, err, units) in priors.items()}
    results_line = (f"Tc={v['tc']:.5f} +/- {_fmt(e['tc'], 2)},Rp/R*={_fmt(v['rp'], 4)} +/- {_fmt(e['rp'], 2)},"
                    f"Am1={_fmt(v['c0'])},Am2={_fmt(v['c1'])}")
    results_xc = {
        "Tc": {"value": f"{v['tc']:.5f}", "uncertainty": _fmt(e["tc"], 2), "units": "BJD_TDB"},
        "Rp/R*": {"value": _fmt(v["rp"], 4), "uncertainty": _fmt(e["rp"], 2)},
        "Am1": {"value": _fmt(v["c0"]), "uncertainty": _fmt(e["c0"], 2)},
        "Am2": {"value": _fmt(v["c1"]), "uncertainty": _fmt(e["c1"], 2)},
        "Duration": {"value": _fmt(fit.duration, 3), "uncertainty": _fmt(fit.duration_err, 2), "units": "days"},
        "a/R*": {"value": _fmt(v["a"], 4), "uncertainty": _fmt(e["a"], 2)},
        "inc": {"value": _fmt(v["inc"], 4), "uncertainty": _fmt(e["inc"], 2), "units": "degrees"},
    }
    lines = [
        "#TYPE=EXOPLANET",
        f"#OBSCODE={obscode}",
        f"#SECONDARY_OBSCODES={secondary_obscodes}",
        f"#SOFTWARE={software}",
        "#DELIM=,",
        "#DATE_TYPE=BJD_TDB",
        "#OBSTYPE=CCD",
        f"#STAR_NAME={star_name}",
        f"#EXOPLANET_NAME={planet_name}",
        f"#BINNING={binning}",
        f"#EXPOSURE_TIME={float(exposure_time)}",
        f"#COMP_STAR-XC={json.dumps(comp_star) if comp_star else 'null'}",
        f"#NOTES={notes}",
        "#DETREND_PARAMETERS=AIRMASS, AIRMASS CORRECTION FUNCTION",
        "#MEASUREMENT_TYPE=Rnflux",
        f"#FILTER={filter_name}",
        f"#FILTER-XC={json.dumps(filter_xc or {'name': filter_name})}",
        f"#PRIORS={priors_line}",
        f"#PRIORS-XC={json.dumps(priors_xc)}",
        f"#RESULTS={results_line}",
        f"#RESULTS-XC={json.dumps(results_xc)}",
        f"# Fitted with {fit.method}; chi2={fit.chi2:.2f} for {fit.dof} degrees of freedom.",
        "#DATE,DIFF,ERR,DETREND_1,DETREND_2",
    ]
    c0 = v["c0"]
    for t, f, err, x, d in zip(fit.time, fit.flux / c0, fit.flux_err / c0, fit.airmass, fit.detrend()):
        lines.append(f"{t:.8f},{f:.8f},{err:.8f},{x:.6f},{d:.8f}")
    return "\n".join(lines) + "\n"


def parse_exotic_report(text: str) -> tuple[dict[str, str], np.ndarray]:
    """Header fields and the data (N x 5: DATE, DIFF, ERR, DETREND_1, DETREND_2) of an exoplanet report."""
    fields: dict[str, str] = {}
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep and " " not in key.strip():
                fields[key.strip()] = value.strip()
        elif line.strip():
            rows.append([float(v) for v in line.split(",")])
    return fields, np.array(rows)
