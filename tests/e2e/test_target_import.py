"""In Chromium: import a KStars observing list, see what was refused and why, then open a target and
see tonight's altitude, the best months and the framing in the camera's field."""
from __future__ import annotations

from pathlib import Path

import pytest

from .test_portal import log_in
from .test_tonight import add_equipment

pytestmark = pytest.mark.e2e

EQUIPMENT = (  # a site with a horizon mask, and an optical train bound to a node there
    ("sites", {"name": "Backyard", "latitude_deg": "48.5", "longitude_deg": "2.25", "elevation_m": "120",
               "timezone": "Europe/Paris", "horizon_text": "0 10, 180 15"}, None),
    ("telescopes", {"name": "RedCat 51", "aperture_mm": "51", "focal_length_mm": "250"}, None),
    ("cameras", {"name": "ASI2600MM", "width_px": "6248", "height_px": "4176", "pixel_size_um": "3.76"}, None),
    ("nodes", {"node_name": "scope1"}, {"site_id": ["Backyard"], "telescope_id": ["RedCat 51"],
                                        "camera_id": ["ASI2600MM"]}),
)
KSTARS_LIST = Path(__file__).parents[1] / "unit" / "fixtures" / "targets" / "kstars_session.obslist"


def test_import_a_kstars_list_and_see_the_plots(page, portal):
    page.goto("/equipment")
    log_in(page, portal)
    page.wait_for_url("**/equipment")
    for kind, values, selects in EQUIPMENT:
        add_equipment(page, kind, values, selects)

    page.click("nav >> text=Targets")
    page.set_input_files("#import-form input[type=file]", str(KSTARS_LIST))
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/targets")
    assert "kstars_session.obslist: nothing imported" in page.locator(".flash.error").first.inner_text()
    assert "target 5 (Jupiter): a Planet moves on the sky" in page.locator("main").inner_text()
    assert page.locator("#target-list tr[data-target]").count() == 0

    page.set_input_files("#import-form input[type=file]", str(KSTARS_LIST))
    page.check("#import-form input[name=skip_bad]")
    page.fill("#import-form input[name=tags]", "kstars")
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/targets")
    assert "4 added, 1 bad, skipped" in page.locator(".flash.ok").inner_text()
    listing = page.locator("#target-list")
    assert listing.locator("tr[data-target]").count() == 4 and "kstars" in listing.inner_text()

    listing.locator("a", has_text="M 31").click()
    page.wait_for_url("**/targets/*")
    page.fill("#sky-form input[name=date]", "2026-12-01")
    page.click("#sky-form button[type=submit]")
    page.wait_for_url("**date=2026-12-01*")
    tonight = page.locator("#plot-tonight svg")
    assert tonight.locator("polyline.curve.target").is_visible()
    assert tonight.locator("rect.band.night").count() >= 1 and tonight.locator("line.transit").count() == 1
    assert tonight.locator("polygon.horizon").count() == 1
    facts = page.locator("#tonight-facts").inner_text()
    assert "Transit 20:52 at 83°" in facts and "moon up to" in facts
    assert page.locator("#plot-months g.month").count() == 12
    assert "Oct" in page.locator("#best-months").inner_text()
    ellipse = page.locator("#plot-framing ellipse.object")
    assert ellipse.is_visible() and ellipse.get_attribute("transform").startswith("rotate(55.0 ")  # PA 35° from OpenNGC
    assert "Fits: the target spans 36% of the field" in page.locator("#framing-verdict").inner_text()
    page.screenshot(path="/tmp/obsy-target-page.png", full_page=True)
