"""A transit fit request from the portal's form: the planet's priors, from the archive or typed.

A planet name alone takes every prior from the NASA Exoplanet Archive; typed values replace the
archive's one by one; without a name, the period and a mid-transit time must be typed.
"""
from __future__ import annotations

import math

from .exoplanet_archive import PlanetPriors, planet_priors
from .run_request import RequestError

__all__ = ["transit_request", "MAX_MCMC_STEPS"]

MAX_MCMC_STEPS = 20_000  # a few minutes of emcee on a night's curve
TYPED = {"period": "period", "t0": "mid-transit time", "rp": "Rp/R*", "a": "a/R*", "inc": "inclination"}


def _number(form, name: str, label: str, low: float, high: float) -> float | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RequestError(f"{label} {text!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise RequestError(f"{label} {value:g} is outside {low:g}…{high:g}")
    return value


def transit_request(form, session, catalog_config) -> tuple[str, dict, int]:
    """(planet name, priors dict, MCMC steps) from the form; RequestError says what is wrong."""
    planet = " ".join((form.get("planet") or "").split())[:120]
    typed = {"period": _number(form, "period", "period", 1e-3, 1e4),
             "t0": _number(form, "t0", "mid-transit time", 2.0e6, 3.0e6),
             "rp": _number(form, "rp", "Rp/R*", 1e-3, 1.0),
             "a": _number(form, "a", "a/R*", 1.0, 1e3),
             "inc": _number(form, "inc", "inclination", 0.0, 90.0)}
    if planet and (typed["period"] is None or typed["t0"] is None):
        priors = planet_priors(session, catalog_config, planet)
    elif typed["period"] is not None and typed["t0"] is not None:
        priors = PlanetPriors(name=planet or "na", period=typed["period"], t0=typed["t0"], source="the observer")
    else:
        raise RequestError("give the planet's name (its priors then come from the NASA Exoplanet Archive), "
                           "or its period and a mid-transit time (BJD_TDB)")
    values = priors.to_dict()
    overridden = [TYPED[name] for name, value in typed.items() if value is not None]
    values.update({name: value for name, value in typed.items() if value is not None})
    if overridden and priors.source != "the observer":
        values["source"] = f"{priors.source}; typed: {', '.join(overridden)}"
    for name, default in (("u1", 0.4), ("u2", 0.2)):  # quadratic limb darkening, fixed in the fit
        value = _number(form, name, f"limb darkening {name}", -1.0, 2.0)
        values[name] = default if value is None else value
    steps = _number(form, "mcmc_steps", "MCMC steps", 0, MAX_MCMC_STEPS)
    return planet or priors.name, values, int(steps or 0)
