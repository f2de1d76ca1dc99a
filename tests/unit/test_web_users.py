"""User management for admins, a user's own password, login rate limiting, session expiry."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from master.models import User
from master.web.throttle import LoginThrottle
from tests.unit.test_web_support import PASSWORD, add_user, login, make_app, make_services


def _user(services, username) -> User:
    with services.sessions() as session:
        return session.scalar(select(User).where(User.username == username))


def test_admin_lists_and_creates_users(services, client):
    add_user(services, "watcher", role="guest")
    page = client.get("/users")
    assert page.status_code == 200 and b'data-user="watcher"' in page.data and b"guest" in page.data
    response = client.post("/users", data={"username": "ann", "role": "observer", "password": "long enough"},
                           follow_redirects=True)
    assert b"ann created as observer" in response.data
    ann = _user(services, "ann")
    assert ann.role == "observer" and ann.active and check_password_hash(ann.password_hash, "long enough")
    again = client.post("/users", data={"username": "ann", "role": "guest", "password": "long enough"},
                        follow_redirects=True)
    assert b"already exists" in again.data
    short = client.post("/users", data={"username": "bob", "role": "guest", "password": "short"},
                        follow_redirects=True)
    assert b"at least 8 characters" in short.data and _user(services, "bob") is None
    bad_role = client.post("/users", data={"username": "bob", "role": "root", "password": "long enough"},
                           follow_redirects=True)
    assert b"role: Not a valid choice" in bad_role.data and _user(services, "bob") is None


def test_admin_deactivates_and_reactivates_a_user(services, client):
    user_id = add_user(services, "ann", role="observer")
    other = make_app(services).test_client()
    login(other, "ann")
    assert other.get("/frames").status_code == 200
    response = client.post(f"/users/{user_id}/active", data={"active": "0"}, follow_redirects=True)
    assert b"ann deactivated" in response.data and not _user(services, "ann").active
    assert other.get("/frames").status_code == 302  # her session ends at once
    assert b"This account is disabled." in login(other, "ann").data
    client.post(f"/users/{user_id}/active", data={"active": "1"})
    assert _user(services, "ann").active
    assert login(other, "ann").status_code == 302
    assert client.post(f"/users/{user_id}/active", data={"active": "maybe"}).status_code == 400
    assert client.post("/users/999/active", data={"active": "1"}).status_code == 404


def test_an_admin_cannot_deactivate_themselves(services, client):
    admin_id = _user(services, "admin").id
    response = client.post(f"/users/{admin_id}/active", data={"active": "0"}, follow_redirects=True)
    assert b"cannot deactivate your own account" in response.data and _user(services, "admin").active


def test_admin_resets_a_password_and_ends_that_users_sessions(services, client):
    user_id = add_user(services, "ann", role="observer")
    other = make_app(services).test_client()
    login(other, "ann")
    response = client.post(f"/users/{user_id}/password", data={"password": "brand new secret"},
                           follow_redirects=True)
    assert b"new password set for ann" in response.data
    assert other.get("/frames").status_code == 302
    assert login(other, "ann", "brand new secret").status_code == 302
    short = client.post(f"/users/{user_id}/password", data={"password": "tiny"}, follow_redirects=True)
    assert b"at least 8 characters" in short.data
    empty = client.post(f"/users/{user_id}/password", data={}, follow_redirects=True)
    assert b"password: This field is required." in empty.data


def test_a_user_changes_their_own_password(services):
    add_user(services, "ann", role="observer")
    client, elsewhere = make_app(services).test_client(), make_app(services).test_client()
    login(client, "ann")
    login(elsewhere, "ann")
    wrong = client.post("/account/password", data={"current": "not it", "new": "new secret 1", "confirm": "new secret 1"},
                        follow_redirects=True)
    assert b"The current password is wrong." in wrong.data
    differ = client.post("/account/password", data={"current": PASSWORD, "new": "new secret 1", "confirm": "other"},
                         follow_redirects=True)
    assert b"the new passwords differ" in differ.data
    short = client.post("/account/password", data={"current": PASSWORD, "new": "short", "confirm": "short"},
                        follow_redirects=True)
    assert b"at least 8 characters" in short.data
    done = client.post("/account/password", data={"current": PASSWORD, "new": "new secret 1", "confirm": "new secret 1"},
                       follow_redirects=True)
    assert b"Password changed" in done.data
    assert client.get("/frames").status_code == 200  # this session goes on
    assert elsewhere.get("/frames").status_code == 302  # the other one ended
    assert check_password_hash(_user(services, "ann").password_hash, "new secret 1")


def test_a_guest_sees_the_account_page_without_forms(services):
    add_user(services, "visitor", role="guest")
    client = make_app(services).test_client()
    login(client, "visitor")
    page = client.get("/account")
    assert page.status_code == 200 and b"ask an admin" in page.data
    assert b'id="password-form"' not in page.data and b'id="token-form"' not in page.data
    assert client.post("/account/password", data={}).status_code == 403


def test_users_page_is_only_for_admins(services):
    add_user(services, "ann", role="observer")
    client = make_app(services).test_client()
    login(client, "ann")
    assert client.get("/users").status_code == 403
    assert b'href="/users"' not in client.get("/frames").data


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_login_is_refused_for_a_while_after_repeated_failures(services):
    app = make_app(services)
    clock = FakeClock()
    app.extensions["obsy_login_throttle"] = LoginThrottle(per_user=3, per_address=5, window_s=60, lockout_s=300,
                                                          clock=clock)
    client = app.test_client()
    for _ in range(3):
        assert b"Wrong username or password." in login(client, "admin", "wrong password").data
    locked = login(client, "admin", PASSWORD)  # even the right password
    assert locked.status_code == 429 and b"Too many failed attempts. Try again in 5 minutes." in locked.data
    clock.now += 301
    assert login(client, "admin", PASSWORD).status_code == 302


def test_failures_outside_the_window_are_forgotten_and_success_resets():
    clock = FakeClock()
    throttle = LoginThrottle(per_user=3, per_address=100, window_s=60, lockout_s=300, clock=clock)
    throttle.failed("ann", "10.0.0.1")
    throttle.failed("ann", "10.0.0.1")
    clock.now += 61
    throttle.failed("Ann ", "10.0.0.1")  # the same name
    assert throttle.retry_after("ann", "10.0.0.2") == 0
    throttle.failed("ann", "10.0.0.1")
    throttle.succeeded("ann")
    throttle.failed("ann", "10.0.0.1")
    assert throttle.retry_after("ann", "10.0.0.1") == 0
    throttle.failed("ann", "10.0.0.1")
    throttle.failed("ann", "10.0.0.1")
    assert throttle.retry_after("ann", "10.0.0.9") == 300


def test_many_usernames_from_one_address_lock_the_address():
    throttle = LoginThrottle(per_user=100, per_address=4, clock=FakeClock())
    for name in "abcd":
        throttle.failed(name, "10.0.0.1")
    assert throttle.retry_after("someone-else", "10.0.0.1") > 0
    assert throttle.retry_after("someone-else", "10.0.0.2") == 0


def test_sessions_expire_after_the_configured_hours(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch, web={"session_hours": 2})
    add_user(services)
    app = make_app(services)
    assert app.permanent_session_lifetime.total_seconds() == 7200
    client = app.test_client()
    cookie = login(client).headers["Set-Cookie"]
    assert re.search(r"Expires=", cookie)
    assert client.get("/frames").status_code == 200
    import itsdangerous.timed
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 7300)
    assert client.get("/frames").status_code == 302
    services.close()


def test_a_login_ends_after_the_configured_hours_even_when_busy(services, client):
    assert client.get("/frames").status_code == 200
    with client.session_transaction() as session:
        session["login_at"] -= 12 * 3600 - 60  # logged in 11 h 59 min ago
    assert client.get("/frames").status_code == 200
    with client.session_transaction() as session:
        session["login_at"] -= 120
    assert client.get("/frames").status_code == 302


def test_session_hours_must_be_positive(tmp_path, monkeypatch):
    with pytest.raises(Exception, match="session_hours"):
        make_services(tmp_path, monkeypatch, web={"session_hours": 0})


def test_the_new_forms_carry_csrf_tokens(services):
    app = make_app(services, csrf=True)
    client = app.test_client()
    token = lambda html: re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1).decode()
    login_token = token(client.get("/login").data)
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": login_token})
    form = {"username": "ann", "role": "guest", "password": "long enough"}
    assert client.post("/users", data=form).status_code == 400
    assert _user(services, "ann") is None
    assert client.post("/users", data={**form, "csrf_token": token(client.get("/users").data)}).status_code == 302
    assert _user(services, "ann").role == "guest"


def test_allowed_refuses_endpoints_without_a_rule(services):
    from master.web.access import allowed
    from master.web.auth import PortalUser

    admin = PortalUser(_user(services, "admin"))
    assert allowed("users.index", admin) and not allowed("no.such.endpoint", admin)


def test_admin_changes_a_role_which_applies_at_the_next_request(services, client):
    user_id = add_user(services, "ann", role="guest")
    ann = make_app(services).test_client()
    login(ann, "ann")
    assert ann.post("/targets/by-coordinates", data={"name": "X", "ra": "1", "dec": "1"}).status_code == 403
    response = client.post(f"/users/{user_id}/role", data={"role": "observer"}, follow_redirects=True)
    assert b"ann is now observer" in response.data and _user(services, "ann").role == "observer"
    assert ann.post("/targets/by-coordinates", data={"name": "X", "ra": "1", "dec": "1"}).status_code == 302
    client.post(f"/users/{user_id}/role", data={"role": "admin"})
    assert ann.get("/users").status_code == 200
    bad = client.post(f"/users/{user_id}/role", data={"role": "root"}, follow_redirects=True)
    assert b"role: Not a valid choice" in bad.data and _user(services, "ann").role == "admin"
    assert client.post("/users/999/role", data={"role": "guest"}).status_code == 404


def test_the_last_admin_cannot_give_up_the_role(services, client):
    admin_id = _user(services, "admin").id
    add_user(services, "sleeper", role="admin", active=False)  # an inactive admin does not count
    response = client.post(f"/users/{admin_id}/role", data={"role": "observer"}, follow_redirects=True)
    assert b"admin is the last active admin" in response.data and _user(services, "admin").role == "admin"
    add_user(services, "second", role="admin")
    response = client.post(f"/users/{admin_id}/role", data={"role": "observer"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert _user(services, "admin").role == "observer"
    assert client.get("/users").status_code == 403


def test_admin_deletes_a_user_and_their_tokens(services, client):
    from master.models import ApiToken
    from master.web.tokens import hash_token

    user_id = add_user(services, "ann", role="observer")
    with services.sessions() as session:
        session.add(ApiToken(user_id=user_id, name="script", token_hash=hash_token("tok-ann")))
        session.commit()
    ann = make_app(services).test_client()
    login(ann, "ann")
    wrong = client.post(f"/users/{user_id}/delete", data={"confirm": "bob"}, follow_redirects=True)
    assert b"Type ann to confirm" in wrong.data and _user(services, "ann") is not None
    empty = client.post(f"/users/{user_id}/delete", data={}, follow_redirects=True)
    assert b"confirm: This field is required." in empty.data
    response = client.post(f"/users/{user_id}/delete", data={"confirm": "ann"}, follow_redirects=True)
    assert b"ann deleted, with their API tokens" in response.data and _user(services, "ann") is None
    with services.sessions() as session:
        assert session.scalars(select(ApiToken)).all() == []
    assert ann.get("/frames").status_code == 302  # her session is gone with her
    assert ann.get("/api/v1/frames", headers={"Authorization": "Bearer tok-ann"}).status_code == 401
    admin_id = _user(services, "admin").id
    own = client.post(f"/users/{admin_id}/delete", data={"confirm": "admin"}, follow_redirects=True)
    assert b"cannot delete your own account" in own.data and _user(services, "admin") is not None
