"""Photometry in the browser: start a run on generated frames, watch it finish, see the curve, download."""
from __future__ import annotations

import time

import pytest
from dramatiq import Worker

from common import names
from master.ingest.local import ingest_paths
from master.science.photometry import parse_aavso_extended
from master.worker import build_broker
from tests.e2e.test_portal import log_in
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
    deadline = time.monotonic() + 90
    while page.locator("[data-run-state]").inner_text() in ("queued", "running"):
        assert time.monotonic() < deadline, "the run did not finish"
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator("[data-run-state]").inner_text() == "done"
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
