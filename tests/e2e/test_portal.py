"""The portal in headless Chromium: log in, browse frames, open one, see new frames arrive."""
from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.e2e

SCREENSHOTS = "/tmp"


def log_in(page, portal, password=None):
    page.fill("#username", portal.username)
    page.fill("#password", password or portal.password)
    page.click("button[type=submit]")


def loaded_images(page, selector: str, timeout_s: float = 10) -> list[bool]:
    """Whether each image decoded, once all have finished loading (or failed).

    Polled from Python: Playwright's wait_for_function evaluates strings, which the CSP forbids.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.eval_on_selector_all(selector, "imgs => imgs.map(i => [i.complete, i.naturalWidth > 0])")
        if all(done for done, _ in state) or time.monotonic() > deadline:
            return [done and decoded for done, decoded in state]
        page.wait_for_timeout(50)


def test_login_browse_and_open_a_frame(page, portal):
    ids = [portal.add_frame() for _ in range(6)]
    portal.add_frame(object_name="<script>alert(1)</script>", target_name="XSS")

    page.goto("/frames")
    assert page.url.startswith(f"{portal.base_url}/login?next=")
    log_in(page, portal, password="not the password")
    assert page.locator("[role=alert]").inner_text() == "Wrong username or password."
    page.screenshot(path=f"{SCREENSHOTS}/obsy-login.png")
    log_in(page, portal)
    page.wait_for_url(f"{portal.base_url}/frames")

    rows = page.locator("#frame-list tbody tr")
    assert rows.count() == 7
    assert page.locator("#frame-list .summary").inner_text().startswith("7 frames")
    assert loaded_images(page, "#frame-list img") == [True] * 7
    assert page.locator("td.object", has_text="<script>alert(1)</script>").count() == 1  # shown as text
    page.screenshot(path=f"{SCREENSHOTS}/obsy-frames.png", full_page=True)

    page.select_option("select[name=accepted]", "no")  # the filter form submits itself
    page.wait_for_url(f"{portal.base_url}/frames?accepted=no")  # empty filters left out
    assert page.locator("#frame-list tbody tr").count() == 1
    page.click("text=Clear")
    page.wait_for_url(f"{portal.base_url}/frames")

    page.click(f"tr[data-frame-id='{ids[0]}'] td.date a")
    page.wait_for_url(f"{portal.base_url}/frames/{ids[0]}")
    assert page.locator("h1").inner_text().startswith("M 42")
    header = page.locator("#header-table")
    assert header.locator("tr", has_text="SWCREATE").locator("td.val").inner_text() == "N.I.N.A. 3.0"
    assert header.locator("tbody tr").count() == 10
    assert loaded_images(page, ".preview img") == [True]
    page.fill("[data-filter-table]", "temp")
    assert header.locator("tbody tr:visible").count() == 1
    page.fill("[data-filter-table]", "")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=f"{SCREENSHOTS}/obsy-frame.png", full_page=True)

    with page.expect_download() as download:
        page.click("text=Download FITS")
    assert download.value.suggested_filename == "Light_M42_300s_0001.fits"


def test_new_frames_appear_without_reload(page, portal):
    page.goto("/login")
    log_in(page, portal)
    page.wait_for_url(f"{portal.base_url}/frames")
    before = page.locator("#frame-list tbody tr").count()
    page.evaluate("window.__notReloaded = true")

    new_id = portal.add_frame(object_name="NGC 2024")
    page.wait_for_selector(f"tr[data-frame-id='{new_id}']", timeout=8000)
    assert page.locator("#frame-list tbody tr").count() == before + 1
    assert page.locator("#frame-list tbody tr").first.get_attribute("data-frame-id") == str(new_id)
    assert page.evaluate("window.__notReloaded") is True  # the list was swapped, not the page reloaded
    assert loaded_images(page, f"tr[data-frame-id='{new_id}'] img") == [True]


def test_nodes_red_light_and_logout(page, portal):
    from datetime import datetime, timezone
    from master.models import Node

    with portal.services.sessions() as session:
        session.add(Node(name="scope1", role="telescope", software_version="0.1.0", state="exposing",
                         spool_backlog=2, last_seen=datetime.now(timezone.utc)))
        session.commit()
    page.goto("/login")
    log_in(page, portal)
    page.click("nav >> text=Nodes")
    page.wait_for_url(f"{portal.base_url}/nodes")
    row = page.locator("tr[data-node='scope1']")
    assert row.locator(".badge").inner_text() == "online"
    assert re.fullmatch(r"\d+ s ago", row.locator("td").nth(5).inner_text())

    page.click("[data-night-toggle]")
    assert page.evaluate("document.documentElement.classList.contains('red-light')")
    page.reload()
    assert page.evaluate("document.documentElement.classList.contains('red-light')")  # remembered
    page.screenshot(path=f"{SCREENSHOTS}/obsy-nodes-red.png", full_page=True)
    page.goto("/frames")
    page.screenshot(path=f"{SCREENSHOTS}/obsy-frames-red.png")

    page.click("text=Logout")
    page.wait_for_url(f"{portal.base_url}/login")
    page.goto("/frames")
    assert "/login" in page.url
