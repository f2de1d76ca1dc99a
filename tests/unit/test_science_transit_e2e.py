"""End to end: frames with an injected transit → ingest → photometry job → ``obsy science transit``."""
from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import EarthLocation
from astropy.time import Time
from click.testing import CliRunner
from sqlalchemy import select

from common.contracts import PhotometryJob, TransitJob
from master.ingest.local import ingest_paths
from master.models import PhotometryRun, TransitFitRequest, User
from master.science.cli import science_group
from master.science.photometry import bjd_tdb
from master.science.photometry_job import run_photometry_job
from master.science.exoplanet_archive import archive_query_url
from master.science.lightcurve_csv import parse_lightcurve_csv
from master.science.products import products_of_run, store_product
from master.science.transit_job import nearest_epoch, run_transit_job
from master.science.transit import parse_exotic_report, transit_model
from tests.unit.science_frames import SITE, write_frames
from master.web.transit_plot import transit_plot
from tests.unit.cds_server import FakeSesame
from tests.unit.test_science_comparisons import closed_port_url
from tests.unit.test_web_support import add_user, login, make_app, make_services

FIXTURES = Path(__file__).parent / "fixtures" / "exoplanet_archive"

PERIOD, RP, A, INC = 2.5, 0.12, 8.0, 87.5
N, CADENCE_MIN = 64, 4.5
START = Time("2024-03-01T20:00:00", scale="utc")
TC_JD = START.jd + 2.4 / 24  # mid-transit (UTC JD), 2.4 h into the series


def number(text: str, name: str) -> tuple[float, float]:
    match = re.search(rf"^{re.escape(name)}\s+([-\d.]+) ± ([\d.]+)", text, re.M)
    assert match, text
    return float(match.group(1)), float(match.group(2))


@pytest.fixture(scope="module")
def archive():
    """The NASA Exoplanet Archive's TAP service, answering a recorded row for HAT-P-X b, none for others."""
    server = FakeSesame()
    server.base = server.url.replace("/cgi-bin/nph-sesame", "/TAP/sync")
    server.answer(asked(server.base, "HAT-P-X b"), (FIXTURES / "hat-p-x-b.json").read_bytes())
    server.answer(asked(server.base, "Nothing b"), b"[]")
    yield server
    server.stop()


def asked(base: str, planet: str) -> str:
    """The query string the fake server is asked (it matches them unquoted)."""
    return unquote(urlsplit(archive_query_url(base, planet)).query)


@pytest.fixture(scope="module")
def transit_run(tmp_path_factory, archive):
    """(services, photometry run id, target) of a measured series of frames with an injected transit."""
    folder = tmp_path_factory.mktemp("transit-frames")
    mid_jd = START.jd + (np.arange(N) * CADENCE_MIN * 60 + 15.0) / 86400  # 30 s exposures
    factors = transit_model(mid_jd, TC_JD, RP, A, INC, PERIOD, (0.4, 0.2))
    paths, target, comps, _ = write_frames(folder, factors, start=START.to_datetime(), cadence_min=CADENCE_MIN,
                                           object_name="HAT-P-X")
    mp = pytest.MonkeyPatch()
    services = make_services(folder, mp, catalog={"enabled": True, "exoplanet_archive_url": archive.base,
                                                  "timeout_s": 2})
    try:
        assert {r["status"] for r in ingest_paths(services, paths)} == {"ingested"}
        with services.sessions() as session:
            run = PhotometryRun(target_name="HAT-P-X", ra_deg=target.ra, dec_deg=target.dec, obscode="OBSY",
                                comparisons=[{"name": c.name, "ra": c.ra, "dec": c.dec} for c in comps])
            session.add(run)
            session.commit()
            run_id = run.id
        assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
        yield services, run_id, target
    finally:
        services.close()
        mp.undo()


@pytest.fixture(scope="module")
def light_curve_csv(transit_run, tmp_path_factory):
    services, run_id, target = transit_run
    with services.sessions() as session:
        [csv_product] = [p for p in products_of_run(session, run_id) if p.kind == "lightcurve_csv"]
    out = tmp_path_factory.mktemp("curve") / "lightcurve.csv"
    out.write_bytes(services.store.get_bytes(csv_product.key))
    return out, target


def true_mid_time(target) -> float:
    location = EarthLocation.from_geodetic(lon=SITE[1] * u.deg, lat=SITE[0] * u.deg, height=SITE[2] * u.m)
    return float(bjd_tdb(TC_JD, target.ra, target.dec, location))


def test_transit_fit_recovers_mid_time_and_depth(light_curve_csv, tmp_path):
    path, target = light_curve_csv
    tc_true = true_mid_time(target)
    report = tmp_path / "report.txt"
    result = CliRunner().invoke(science_group, [
        "transit", str(path), "--period", str(PERIOD), "--t0", f"{tc_true + 0.01:.6f}", "--a", "9", "--inc", "88",
        "--star", "HAT-P-X", "--planet", "HAT-P-X b", "--obscode", "OBSY", "--report", str(report)])
    assert result.exit_code == 0, result.output
    tc, tc_err = number(result.output, "Tc")
    depth, depth_err = number(result.output, "depth")
    assert 0 < tc_err < 0.005 and abs(tc - tc_true) < 3 * tc_err, (tc - tc_true, tc_err)
    assert 0 < depth_err < 0.004 and abs(depth - RP**2) < 3 * depth_err, (depth, depth_err)
    fields, data = parse_exotic_report(report.read_text())
    assert fields["STAR_NAME"] == "HAT-P-X" and fields["DATE_TYPE"] == "BJD_TDB" and len(data) == N
    assert fields["RESULTS"].startswith(f"Tc={tc:.5f}")


def test_transit_cli_refuses_what_is_not_a_light_curve(tmp_path):
    bad = tmp_path / "short.csv"
    bad.write_text("bjd_tdb,rel_flux,rel_flux_err,good\n2460000.5,1.0,0.01,1\n")
    result = CliRunner().invoke(science_group, ["transit", str(bad), "--period", "2.5", "--t0", "2460000.5"])
    assert result.exit_code != 0 and "needs at least 10" in result.output


def fit_page(services, run_id: int, **form):
    add_user_once(services)
    client = make_app(services).test_client()
    login(client, "observer")
    answer = client.post(f"/photometry/{run_id}/transit", data=form, follow_redirects=True)
    return client, html.unescape(answer.get_data(as_text=True))


def add_user_once(services):
    with services.sessions() as session:
        if session.scalar(select(User).where(User.username == "observer")) is None:
            add_user(services, "observer", role="observer")


def fits_of(services, run_id: int) -> list[TransitFitRequest]:
    with services.sessions() as session:
        return session.scalars(select(TransitFitRequest).where(TransitFitRequest.photometry_run_id == run_id)
                               .order_by(TransitFitRequest.id)).all()


def test_a_transit_fit_from_the_portal_with_the_archive_priors(transit_run, archive):
    services, run_id, target = transit_run
    client, page = fit_page(services, run_id, planet="HAT-P-X b")
    assert "transit fit" in page and "queued (priors from NASA Exoplanet Archive)" in page
    [fit] = fits_of(services, run_id)[-1:]
    assert fit.state == "queued" and fit.priors["period"] == 2.5 and fit.priors["a"] == 8.4
    # what the worker's transit_fit actor does with the message the portal queued
    assert run_transit_job(services, TransitJob(transit_fit_id=fit.id).to_wire()) == "done"
    [fit] = [f for f in fits_of(services, run_id) if f.id == fit.id]
    tc_true = true_mid_time(target)
    tc, tc_err = fit.result["values"]["tc"], fit.result["errors"]["tc"]
    assert abs(tc - tc_true) < 3 * tc_err and tc_err < 0.005  # the prior was 100 periods and 6 minutes away
    assert abs(fit.result["depth"] - RP ** 2) < 3 * fit.result["depth_err"]
    page = client.get(f"/photometry/{run_id}").get_data(as_text=True)
    assert f'data-transit-fit="{fit.id}"' in page and "data-transit-plot" in page and "data-model" in page
    assert f"{tc:.5f} ± " in page and "Priors from NASA Exoplanet Archive" in page
    # the model runs through the detrended points: out of transit at 1, inside it below by the depth
    plot = transit_plot(parse_lightcurve_csv(services.store.get_bytes(
        f"products/photometry/run-{run_id}/lightcurve.csv").decode()), fit.priors, fit.result)
    model_y = [float(point.split(",")[1]) for point in plot.line.split()]
    points_y = sorted(p.y for p in plot.points)
    assert points_y[2] < min(model_y) < max(model_y) < points_y[-3]
    report = client.get(f"/products/{fit.product_id}/download").get_data(as_text=True)
    fields, data = parse_exotic_report(report)
    assert fields["EXOPLANET_NAME"] == "HAT-P-X b" and fields["STAR_NAME"] == "HAT-P-X" and len(data) == N
    assert fields["OBSCODE"] == "OBSY" and fields["RESULTS"].startswith(f"Tc={tc:.5f}")
    # the archive is asked once: a second fit with typed a/R* uses the cached row
    asks = len(archive.paths)
    fit_page(services, run_id, planet="HAT-P-X b", a="8.0")
    assert len(archive.paths) == asks
    last = fits_of(services, run_id)[-1]
    assert last.priors["a"] == 8.0 and last.priors["source"] == "NASA Exoplanet Archive (cache); typed: a/R*"


def test_typed_priors_and_what_is_refused(transit_run, archive):
    services, run_id, target = transit_run
    before = len(fits_of(services, run_id))
    for form, said in [({}, "give the planet's name"),
                       ({"planet": "Nothing b"}, "knows no planet named 'Nothing b'"),
                       ({"period": "2.5", "t0": "abc"}, "mid-transit time 'abc' is not a number"),
                       ({"period": "-1", "t0": "2460371.4"}, "period -1 is outside"),
                       ({"period": "2.5", "t0": "2460371.4", "mcmc_steps": "1e9"}, "MCMC steps")]:
        _, page = fit_page(services, run_id, **form)
        assert said in page, (form, page[-2000:])
    assert len(fits_of(services, run_id)) == before  # nothing queued
    services.config.catalog.exoplanet_archive_url = closed_port_url()
    try:
        _, page = fit_page(services, run_id, planet="Other b")
        assert "could not be reached" in page and "give the period and mid-transit time by hand" in page
        _, page = fit_page(services, run_id, planet="Other b", period="2.5", t0=f"{true_mid_time(target):.4f}")
        assert "priors from the observer" in page  # typed priors need no archive
    finally:
        services.config.catalog.exoplanet_archive_url = archive.base
    fit = fits_of(services, run_id)[-1]
    assert fit.planet_name == "Other b" and fit.priors["source"] == "the observer"


def test_a_light_curve_too_short_fails_the_fit_with_its_reason(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    with services.sessions() as session:
        run = PhotometryRun(target_name="X", ra_deg=1.0, dec_deg=2.0, state="done")
        session.add(run)
        session.flush()
        store_product(session, services.store, kind="lightcurve_csv", key="products/photometry/run-1/lightcurve.csv",
                      data=b"bjd_tdb,rel_flux,rel_flux_err,good\n2460000.5,1.0,0.01,1\n", parameters={},
                      photometry_run_id=run.id)
        fit = TransitFitRequest(photometry_run_id=run.id, priors={"period": 2.5, "t0": 2460000.4}, planet_name="X b")
        session.add(fit)
        session.commit()
        fit_id = fit.id
    assert run_transit_job(services, TransitJob(transit_fit_id=fit_id).to_wire()) == "failed"
    with services.sessions() as session:
        fit = session.get(TransitFitRequest, fit_id)
        assert fit.state == "failed" and "needs at least 10" in fit.reason and fit.finished_at is not None
    services.close()


def test_the_prior_mid_time_moves_by_whole_periods_to_the_series():
    assert nearest_epoch(2460000.0, 2.5, [2460250.1, 2460250.3]) == pytest.approx(2460250.0)
    assert nearest_epoch(2460500.0, 2.5, [2460250.1, 2460250.3]) == pytest.approx(2460250.0)
