"""The targets page in Chromium: find a target in the offline catalogue, add it, open it."""
from __future__ import annotations

import pytest

from .test_portal import log_in

pytestmark = pytest.mark.e2e


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
