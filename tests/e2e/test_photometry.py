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
from master.models import Frame
from master.science.platesolve import celestial_wcs
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
    worker = Worker(broker, queues={names.SCIENCE_QUEUE}, worker_threads=1, worker_timeout=100)
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
