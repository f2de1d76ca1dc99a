"""The targets page in Chromium: find a target in the offline catalogue or at CDS, add it, open it."""
from __future__ import annotations

import pytest

from tests.unit.cds_server import FakeSesame
from .test_portal import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sesame():
    server = FakeSesame()
    server.answer("Barnard's Star", "barnard.xml")
    server.answer("Vega", b"<html><body>Internal Server Error</body></html>", status=500)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def portal_config(sesame):
    return {"catalog": {"sesame_url": sesame.url, "timeout_s": 2.0}}


def test_search_add_and_open_a_target(page, portal):
    page.goto("/targets")
    log_in(page, portal)
    page.wait_for_url("**/targets")
    page.fill("input[name=q]", "North America")
    page.click("form.filters >> text=Search")
    result = page.locator("tr[data-result='NGC7000']")
    assert "North America Nebula" in result.inner_text()
    result.locator("button", has_text="Add").click()
    page.wait_for_url("**/targets/*")
    assert page.locator("h1").inner_text() == "NGC 7000"
    assert "20:59:17" in page.locator("#target-fields").inner_text()
    page.click("nav >> text=Targets")
    page.fill("#coords-form input[name=name]", "Comet field")
    page.fill("#coords-form input[name=ra]", "nonsense")
    page.fill("#coords-form input[name=dec]", "+10")
    page.click("#coords-form button[type=submit]")
    assert "right ascension" in page.locator(".flash.error").inner_text()
    assert page.locator("#target-list tr[data-target]").count() == 1
    page.screenshot(path="/tmp/obsy-targets.png", full_page=True)


def test_a_name_only_simbad_knows_is_found_and_added(page, portal, sesame):
    page.goto("/targets")
    log_in(page, portal)
    page.wait_for_url("**/targets")
    page.fill("input[name=q]", "Vega")
    page.click("form.filters >> text=Search")
    assert "SIMBAD unreachable: HTTP 500" in page.locator("#online-notice").inner_text()
    page.fill("input[name=q]", "Barnard's Star")
    page.click("form.filters >> text=Search")
    assert page.locator("#search-source").inner_text() == "Found in SIMBAD (Sesame)"
    result = page.locator("tr[data-source='SIMBAD']")
    assert result.count() == 1 and "Barnard's star" in result.inner_text() and "GJ 699" in result.inner_text()
    page.screenshot(path="/tmp/obsy-targets-simbad.png", full_page=True)
    asked = len(sesame.paths)
    result.locator("button", has_text="Add").click()
    page.wait_for_url("**/targets/*")
    assert page.locator("h1").inner_text() == "Barnard's star"
    fields = page.locator("#target-fields").inner_text()
    assert "17:57:48" in fields and "+04:41:36" in fields and "9.511" in fields and "NAME Barnard's star" in fields
    assert len(sesame.paths) == asked  # adding found the result in the cache
    page.click("nav >> text=Targets")
    assert page.locator("#target-list tr[data-target]", has_text="Barnard's star").count() == 1
