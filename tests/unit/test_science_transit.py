"""Transit model, fit with airmass detrending, and the AAVSO exoplanet report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from master.science.transit import (
    TransitParams, fit_transit, format_exotic_report, parse_exotic_report, transit_duration, transit_model,
)

TRUE = dict(tc=2460000.60, rp=0.12, a=8.0, inc=87.5)
PERIOD = 2.5
SIGMA = 0.002


def synthetic(seed=3):
    rng = np.random.default_rng(seed)
    t = np.linspace(2460000.50, 2460000.70, 180)
    airmass = 1.0 + 0.8 * ((t - t[0]) / (t[-1] - t[0]) - 0.3) ** 2
    flux = transit_model(t, TRUE["tc"], TRUE["rp"], TRUE["a"], TRUE["inc"], PERIOD, (0.4, 0.2))
    flux = 1.3e5 * flux * (1.0 - 0.01 * (airmass - airmass.mean())) + rng.normal(0, 1.3e5 * SIGMA, t.size)
    return t, flux, np.full(t.size, 1.3e5 * SIGMA), airmass


def guess():
    return TransitParams(period=PERIOD, tc=2460000.605, rp=0.1, a=10.0, inc=88.0, u1=0.4, u2=0.2)


def test_model_against_analytic_cases():
    t = np.array([0.0, 0.5])
    # uniform disk, planet wholly inside: the depth is exactly (Rp/Rs)^2
    flux = transit_model(t, 0.0, 0.1, 15.0, 90.0, 3.0, (0.0, 0.0))
    assert flux[0] == pytest.approx(1 - 0.01, abs=1e-6) and flux[1] == 1.0
    # small planet at the centre of a quadratic limb-darkened disk: depth = k^2 I(0) / <I>,
    # with <I> / I(0) = 1 - u1/3 - u2/6
    u1, u2, k = 0.4, 0.25, 0.01
    flux = transit_model(t, 0.0, k, 15.0, 90.0, 3.0, (u1, u2))
    assert (1 - flux[0]) == pytest.approx(k * k / (1 - u1 / 3 - u2 / 6), rel=1e-3)
    # T14 of a central transit: P/pi * asin((1 + k) / a)
    assert transit_duration(3.0, 0.1, 15.0, 90.0) == pytest.approx(3.0 / np.pi * np.arcsin(1.1 / 15.0))


def test_fit_recovers_injected_transit():
    t, flux, err, airmass = synthetic()
    fit = fit_transit(t, flux, err, guess(), airmass)
    assert fit.method == "least_squares"
    for name, value in TRUE.items():
        assert abs(fit.values[name] - value) < 3 * fit.errors[name], (name, fit.values[name], fit.errors[name])
    assert fit.errors["tc"] < 0.001 and fit.errors["rp"] < 0.005
    assert abs(fit.values["c1"] / fit.values["c0"] + 0.01) < 3 * fit.errors["c1"]
    assert 0.7 < fit.chi2 / fit.dof < 1.4
    true_duration = transit_duration(PERIOD, TRUE["rp"], TRUE["a"], TRUE["inc"])
    assert abs(fit.duration - true_duration) < 3 * fit.duration_err
    assert fit.duration_err < 0.005


def test_emcee_uncertainties_are_consistent():
    t, flux, err, airmass = synthetic(seed=5)
    fit = fit_transit(t, flux, err, guess(), airmass, mcmc_steps=300, mcmc_walkers=16, seed=1)
    again = fit_transit(t, flux, err, guess(), airmass, mcmc_steps=300, mcmc_walkers=16, seed=1)
    assert fit.method == "emcee" and fit.chains.shape == (150 * 16, 6)
    assert fit.errors == again.errors  # seeded chains are reproducible
    lsq = fit_transit(t, flux, err, guess(), airmass)
    for name in ("tc", "rp"):
        assert abs(fit.values[name] - TRUE[name]) < 3 * fit.errors[name]
        assert 0.4 < fit.errors[name] / lsq.errors[name] < 2.5


def test_exotic_report_round_trip():
    t, flux, err, airmass = synthetic()
    fit = fit_transit(t, flux, err, guess(), airmass)
    text = format_exotic_report(fit, obscode="XOBS", star_name="TEST-1", planet_name="TEST-1 b", filter_name="V",
                                exposure_time=60, priors_err={"Period": 2e-6})
    fields, data = parse_exotic_report(text)
    assert text.startswith("#TYPE=EXOPLANET\n#OBSCODE=XOBS\n")
    for key in ("SECONDARY_OBSCODES", "SOFTWARE", "DELIM", "DATE_TYPE", "OBSTYPE", "STAR_NAME", "EXOPLANET_NAME",
                "BINNING", "EXPOSURE_TIME", "COMP_STAR-XC", "NOTES", "DETREND_PARAMETERS", "MEASUREMENT_TYPE",
                "FILTER", "FILTER-XC", "PRIORS", "PRIORS-XC", "RESULTS", "RESULTS-XC"):
        assert key in fields, key
    assert fields["DATE_TYPE"] == "BJD_TDB" and fields["MEASUREMENT_TYPE"] == "Rnflux"
    assert fields["PRIORS"].startswith("Period=2.5 +/- 2e-06,a/R*=")
    results = json.loads(fields["RESULTS-XC"])
    assert float(results["Tc"]["value"]) == pytest.approx(fit.values["tc"], abs=1e-5)
    assert results["Tc"]["units"] == "BJD_TDB"
    assert float(results["Rp/R*"]["value"]) == pytest.approx(fit.values["rp"], abs=1e-4)
    assert float(results["Duration"]["value"]) == pytest.approx(fit.duration, abs=1e-3)
    assert fields["RESULTS"].startswith(f"Tc={fit.values['tc']:.5f} +/- ")
    assert json.loads(fields["PRIORS-XC"])["Period"] == {"value": "2.5", "uncertainty": "2e-06", "units": "days"}
    assert data.shape == (180, 5)
    np.testing.assert_allclose(data[:, 0], t, atol=1e-8)
    np.testing.assert_allclose(data[:, 3], airmass, atol=1e-6)
    # DIFF divided by the correction (DETREND_2) is the detrended light curve the model fits
    np.testing.assert_allclose(data[:, 1] / data[:, 4], flux / np.median(flux) / fit.values["c0"] / fit.detrend(),
                               rtol=1e-6)
    model = fit.model()
    assert np.std(data[:, 1] / data[:, 4] - model) < 1.3 * SIGMA


def test_fit_needs_points():
    with pytest.raises(ValueError):
        fit_transit(np.arange(5.0), np.ones(5), np.ones(5), guess())


def test_a_curve_without_airmass_still_has_errors():
    # space data or a CSV without airmass: the airmass slope cannot be fitted, the rest must be
    t, flux, err, _ = synthetic(seed=7)
    fit = fit_transit(t, flux, err, guess(), None)
    assert fit.errors["c1"] == 0.0 and fit.dof == len(t) - 5
    assert all(np.isfinite(e) for e in fit.errors.values())
    for name in ("tc", "rp"):
        assert 0 < fit.errors[name] < 0.01 and abs(fit.values[name] - TRUE[name]) < 4 * fit.errors[name], name
    assert np.isfinite(fit.duration_err) and fit.duration_err > 0
