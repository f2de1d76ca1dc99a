"""Reports and public viewing in headless Chromium: a target's report with its charts, a night's page,
and an anonymous visitor opening a public frame in the viewer."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from master.models import Frame, SafetyRecord, Target
from tests.e2e.test_portal import loaded_images, log_in
from tests.unit.test_viewer_pyramid import fits_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report_data(portal):
    with portal.services.sessions() as session:
        target = Target(name="M42", ra_deg=83.8, dec_deg=-5.4)
        session.add(target)
        start = datetime(2024, 3, 9, 19, 30, tzinfo=timezone.utc)
        session.add_all(SafetyRecord(node_name="roof1", state="unsafe" if 30 <= i < 36 else "safe",
                                     reasons=["humidity 94 above 90"] if 30 <= i < 36 else [],
                                     at=start + timedelta(minutes=5 * i)) for i in range(60))
        session.commit()
        target_id = target.id
    ids = [portal.add_frame(filter_name=filt, hfr_px=1.9 + i / 10) for i in range(6) for filt in ("L", "R")]
    ids += [portal.add_frame(night=date(2024, 3, 10), filter_name="L", background=900.0 + i,
                             date_obs=datetime(2024, 3, 10, 21, tzinfo=timezone.utc) + timedelta(minutes=5 * i))
            for i in range(4)]
    return {"target_id": target_id, "frames": ids}


def test_target_report_shows_integration_and_quality_charts(page, portal, report_data):
    page.goto(f"/targets/{report_data['target_id']}")
    log_in(page, portal)
    page.click("[data-report]")
    page.wait_for_url(f"{portal.base_url}/reports/targets/{report_data['target_id']}")
    bars = page.locator('svg[data-chart="integration"] [data-bar]')
    assert bars.count() == 3  # two nights: L and R on the first, L on the second
    box = page.locator('svg[data-chart="integration"]').bounding_box()
    assert box["width"] > 400 and box["height"] > 100  # drawn, not collapsed by the stylesheet
    heights = [float(h) for h in page.eval_on_selector_all('svg[data-chart="integration"] [data-bar] rect',
                                                         "rs => rs.map(r => r.getAttribute('height'))")]
    assert all(h > 0 for h in heights)
    hfr = page.locator('svg[data-chart="hfr_px"] circle[data-point]')
    assert hfr.count() == 16
    assert page.locator('svg[data-chart="hfr_px"] circle.rejected').count() == 4  # every fourth frame
    assert page.locator('svg[data-chart="background"] circle[data-point]').count() == 4
    assert page.locator('svg[data-chart="star_count"]').is_visible()
    assert "HFR above 3.0 px" in page.inner_text("[data-reasons]")
    with page.expect_download() as download:
        page.click("text=CSV (one row per frame)")
    assert open(download.value.path()).read().count("\n") == 17

    page.click("[data-integration] a >> text=2024-03-09")
    page.wait_for_url(f"{portal.base_url}/reports/nights/2024-03-09")
    assert page.locator('[data-safety="roof1"] rect[data-state="unsafe"]').count() == 1
    assert "humidity 94 above 90" in page.inner_text("[data-weather]")
    assert page.locator("[data-captured] tbody tr").count() == 2


def test_an_anonymous_visitor_opens_a_public_frame_in_the_viewer(page, portal, report_data):
    public_id, private_id = report_data["frames"][0], report_data["frames"][1]
    with portal.services.sessions() as session:
        frame = session.get(Frame, public_id)
        frame.public, key = True, frame.key
        session.commit()
    portal.services.store.put_bytes(key, fits_bytes(np.random.default_rng(1).normal(1000, 30, (300, 400))
                                                    .astype(np.uint16)))
    page.goto("/public/targets")
    page.click(f'[data-public-frame="{public_id}"] a')
    page.wait_for_url(f"{portal.base_url}/frames/{public_id}/view")
    assert all(loaded_images(page, "#v-layer img", timeout_s=20))
    assert page.locator("#v-layer img").count() >= 1
    page.goto(f"/frames/{private_id}/view")
    assert "/login" in page.url
