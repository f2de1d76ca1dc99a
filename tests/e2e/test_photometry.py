"""Photometry in the browser: start a run on generated frames, watch it finish, see the curve, download."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
from astropy.io import fits
from dramatiq import Worker
from playwright.sync_api import expect
from sqlalchemy import select

from common import names
from master.ingest.local import ingest_paths
from master.models import Frame, PhotometryRun
from master.science.platesolve import celestial_wcs
from master.science.products import store_product
from master.science.transit import parse_exotic_report, transit_model
from master.science.photometry import parse_aavso_extended
from master.worker import build_broker
from tests.e2e.test_portal import log_in
from tests.e2e.test_viewer import screen_point
from tests.unit.science_frames import write_frames

pytestmark = pytest.mark.e2e
N = 4


@pytest.fixture(scope="module")
def field(portal, tmp_path_factory):
    """Generated frames of a field with a varying star, ingested; the in-process broker's worker running."""
    factors = [1.0, 1.15, 1.3, 1.15][:N]
    paths, target, comps, _ = write_frames(tmp_path_factory.mktemp("field"), factors)
    assert [r["status"] for r in ingest_paths(portal.services, paths)] == ["ingested"] * N
    broker = build_broker(portal.services, broker=portal.services.job_broker)
    worker = Worker(broker, queues={names.SCIENCE_QUEUE}, worker_threads=1, worker_timeout=100)  # runs and fits
    worker.start()
    yield target, comps
    worker.stop()


def wait_for_the_run(page, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while page.locator("[data-run-state]").inner_text() in ("queued", "running"):
        assert time.monotonic() < deadline, "the run did not finish"
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator("[data-run-state]").inner_text() == "done"


def test_start_a_run_see_the_light_curve_and_download_the_aavso_report(page, portal, field, tmp_path):
    target, comps = field
    page.goto("/photometry")
    log_in(page, portal)
    page.goto("/photometry")
    form = page.locator("[data-photometry-form]")
    form.locator("select[name=target_name]").select_option("VAR FIELD")
    form.locator("input[name=ra]").fill(f"{target.ra:.6f}")
    form.locator("input[name=dec]").fill(f"{target.dec:.6f}")
    form.locator("textarea[name=comparisons]").fill("\n".join(f"{c.ra:.6f} {c.dec:.6f} {c.mag:.3f}" for c in comps))
    form.locator("input[name=obscode]").fill("XOBS")
    form.locator("button[type=submit]").click()
    assert "photometry run" in page.locator(".flash, [role=status], [role=alert]").first.inner_text()
    wait_for_the_run(page)
    plot = page.locator("svg[data-lightcurve]")
    assert plot.is_visible() and plot.locator("[data-point]").count() == N
    assert page.locator("figcaption").inner_text().startswith(f"{N} frames")
    assert "No master from the calibration library" in page.locator("[data-calibration]").inner_text()
    with page.expect_download() as info:
        page.locator("[data-products] a", has_text="aavso_extended.txt").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name.endswith("aavso_extended.txt")
    fields, rows = parse_aavso_extended(saved.read_text())
    assert fields["OBSCODE"] == "XOBS" and fields["DATE"] == "BJD" and len(rows) == N
    assert all(row["STARID"] == "VAR FIELD" and row["MTYPE"] == "STD" for row in rows)
    page.screenshot(path="/tmp/obsy-photometry-run.png", full_page=True)


def test_stars_picked_in_the_viewer_fill_the_form_and_start_a_run(page, portal, field):
    target, comps = field
    with portal.services.sessions() as session:
        frame = session.scalars(select(Frame).where(Frame.target_name == "VAR FIELD").order_by(Frame.date_obs)).first()
        frame_id, key = frame.id, frame.key
    wcs = celestial_wcs(fits.Header.fromstring(portal.services.store.get_bytes(key)[:28800]))
    page.goto("/photometry")
    log_in(page, portal)
    page.goto(f"/frames/{frame_id}/view")
    page.check("#v-pick")  # also turns the star circles on
    expect(page.locator("#v-star-count")).to_have_text(re.compile(r"^\d+ stars$"))
    page.mouse.click(5, 5)  # outside the image: nothing is picked
    for star in (target, *comps):
        x, y = wcs.all_world2pix([[star.ra, star.dec]], 0)[0]
        sx, sy = screen_point(page, x, y)
        page.mouse.click(sx + 2, sy - 1)  # near the star is enough: the detected star is taken
    picks = page.locator("#v-pick-list li")
    assert picks.count() == 4 and picks.first.inner_text().startswith("Target")
    assert page.locator(".v-overlay .v-pick-label").count() == 4
    page.click("#v-pick-go")
    form = page.locator("[data-photometry-form]")
    assert form.locator("select[name=target_name]").input_value() == "VAR FIELD"
    # the detected centroids, within a fraction of a pixel (1.3 arcsec) of the catalogue positions
    ra, dec = (float(form.locator(f"input[name={n}]").input_value()) for n in ("ra", "dec"))
    assert abs(ra - target.ra) * np.cos(np.radians(dec)) < 1e-4 and abs(dec - target.dec) < 1e-4
    lines = form.locator("textarea[name=comparisons]").input_value().splitlines()
    assert len(lines) == len(comps)
    for line, comp in zip(lines, comps):
        ra, dec = map(float, line.split())
        assert abs(ra - comp.ra) * np.cos(np.radians(dec)) < 1e-4 and abs(dec - comp.dec) < 1e-4
    form.locator("button[type=submit]").click()
    wait_for_the_run(page)
    assert page.locator("svg[data-lightcurve] [data-point]").count() == N


def test_fit_a_transit_on_a_run_and_see_the_model_over_the_curve(page, portal, field, tmp_path):
    # a light curve with a known transit stands in for a night of frames (their photometry is tested above)
    period, tc, rp = 2.5, 2460371.44, 0.12
    times = tc + np.linspace(-0.12, 0.12, 60)
    flux = 0.8 * transit_model(times, tc, rp, 8.0, 87.5, period, (0.4, 0.2))
    flux += np.random.default_rng(5).normal(0, 0.001, times.size)
    lines = ["bjd_tdb,rel_flux,rel_flux_err,airmass,good"] + [f"{t:.6f},{f:.6f},0.001,1.2,1" for t, f in zip(times, flux)]
    with portal.services.sessions() as session:
        run = PhotometryRun(target_name="TRANSIT FIELD", ra_deg=150.0, dec_deg=55.0, state="done", frames_used=60)
        session.add(run)
        session.flush()
        store_product(session, portal.services.store, kind="lightcurve_csv", data="\n".join(lines).encode(),
                      key=f"products/photometry/run-{run.id}/lightcurve.csv", parameters={}, photometry_run_id=run.id)
        session.commit()
        run_id = run.id
    page.goto("/photometry")
    log_in(page, portal)
    page.goto(f"/photometry/{run_id}")
    form = page.locator("[data-transit-form]")
    form.locator("input[name=period]").fill(str(period))
    form.locator("input[name=t0]").fill(f"{tc - 40 * period + 0.003:.5f}")  # an old ephemeris, a little off
    form.locator("button[type=submit]").click()
    assert "transit fit" in page.locator(".flash, [role=status], [role=alert]").first.inner_text()
    fit = page.locator("[data-transit-fit]").first
    deadline = time.monotonic() + 60
    while fit.locator("[data-fit-state]").inner_text() in ("queued", "running"):
        assert time.monotonic() < deadline, "the fit did not finish"
        page.wait_for_timeout(500)
        page.reload()
    assert fit.locator("[data-fit-state]").inner_text() == "done"
    fitted_tc = float(fit.locator("[data-tc]").inner_text().split()[0])
    assert abs(fitted_tc - tc) < 0.002
    assert fit.locator("svg[data-transit-plot] [data-point]").count() == 60
    assert fit.locator("svg[data-transit-plot] polyline[data-model]").is_visible()
    with page.expect_download() as info:
        fit.locator("[data-fit-report]").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    fields, rows = parse_exotic_report(saved.read_text())
    assert fields["STAR_NAME"] == "TRANSIT FIELD" and len(rows) == 60
