"""Users in Chromium: an admin adds an observer, who then logs in and has no users page."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def log_in_as(page, username, password):
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form >> button[type=submit]")


def test_admin_creates_an_observer_who_cannot_manage_users(page, portal):
    page.goto("/users")
    log_in_as(page, portal.username, portal.password)
    page.wait_for_url("**/users")
    page.fill("#create-user input[name=username]", "vera")
    page.select_option("#create-user select[name=role]", "observer")
    page.fill("#create-user input[name=password]", "rubin observatory")
    page.click("#create-user button[type=submit]")
    assert "vera created as observer" in page.locator(".flash.ok").inner_text()
    row = page.locator("tr[data-user=vera]")
    assert "observer" in row.inner_text() and "active" in row.inner_text()
    page.screenshot(path="/tmp/obsy-users.png", full_page=True)
    page.click("text=Logout")
    page.wait_for_url("**/login")

    log_in_as(page, "vera", "rubin observatory")
    page.wait_for_url("**/frames")
    assert page.locator("header .user").inner_text() == "vera"
    nav = page.locator("nav.mainnav").inner_text()
    assert "Targets" in nav and "Users" not in nav
    # Fetched with the page's cookies rather than opened: a 403 page load is logged as a console error.
    response = page.request.get("/users")
    assert response.status == 403 and "<h1>Forbidden</h1>" in response.text()
    page.goto("/account")
    assert page.locator("#password-form").count() == 1


def test_anonymous_visitors_see_the_public_targets(page, portal):
    from master.models import Target

    with portal.services.sessions() as session:
        session.add_all([Target(name="M 45 <b>", ra_deg=56.75, dec_deg=24.1, public=True),
                         Target(name="Secret comet", ra_deg=10.0, dec_deg=10.0, public=False)])
        session.commit()
    page.goto("/public/targets")
    table = page.locator("#public-targets").inner_text()
    assert "M 45 <b>" in table and "Secret comet" not in table
    page.click("header >> text=Log in")
    page.wait_for_url("**/login")
