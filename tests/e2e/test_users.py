"""Users in Chromium: an admin adds an observer, who then logs in and has no users page."""
from __future__ import annotations

import pytest

from master.web.auth import create_user

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


def test_admin_changes_roles_and_deletes_but_keeps_an_admin(page, portal):
    create_user(portal.services.sessions, "otto", "struve double", role="observer")
    create_user(portal.services.sessions, "gone", "leaving soon", role="guest")
    page.goto("/users")
    log_in_as(page, portal.username, portal.password)
    page.wait_for_url("**/users")

    page.select_option("tr[data-user=otto] select[name=role]", "guest")
    page.click("tr[data-user=otto] .role-form button")
    assert "otto is now guest" in page.locator(".flash.ok").inner_text()
    assert page.locator("tr[data-user=otto] select[name=role]").input_value() == "guest"

    page.select_option(f"tr[data-user={portal.username}] select[name=role]", "observer")
    page.click(f"tr[data-user={portal.username}] .role-form button")
    assert "is the last active admin" in page.locator(".flash.error").inner_text()
    assert page.locator(f"tr[data-user={portal.username}] select[name=role]").input_value() == "admin"

    page.fill("tr[data-user=gone] .delete-form input[name=confirm]", "gone")
    page.click("tr[data-user=gone] .delete-form button")
    assert "gone deleted" in page.locator(".flash.ok").inner_text()
    assert page.locator("tr[data-user=gone]").count() == 0
    page.screenshot(path="/tmp/obsy-users-roles.png", full_page=True)


def test_a_token_made_on_the_account_page_works_for_scripts_until_revoked(page, portal):
    import requests

    page.goto("/account")
    log_in_as(page, portal.username, portal.password)
    page.goto("/account")
    page.fill("#token-form input[name=name]", "backup script")
    page.click("#token-form button[type=submit]")
    token = page.locator("#new-token code.token").inner_text().strip()
    assert len(token) > 20
    api = portal.base_url + "/api/v1/frames"
    # A script: no cookies, only the token.
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    assert requests.get(api, timeout=10).status_code == 401
    assert requests.get(api, headers={"Authorization": "Bearer not-a-token"}, timeout=10).status_code == 401
    page.goto("/account")
    row = page.locator("#token-list tr", has_text="backup script")
    assert "never" not in row.inner_text()  # its last use is recorded
    row.locator("button", has_text="Revoke").click()
    assert "revoked" in page.locator("#token-list tr", has_text="backup script").inner_text()
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401
