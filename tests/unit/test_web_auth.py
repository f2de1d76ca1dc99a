"""Portal access: login, logout, CSRF, users, secret key, security headers, health."""
from __future__ import annotations

import os
import re
import stat

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from common import paths
from master.models import User
from master.web import create_app, load_or_create_secret_key
from master.web.auth import UserError, create_user, safe_next
from tests.unit.test_web_support import FAST_HASH, PASSWORD, add_frame, add_user, login, make_app, make_services


@pytest.fixture
def services(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    yield services
    services.close()


@pytest.fixture
def client(services):
    return make_app(services).test_client()


PROTECTED_PAGES = ["/", "/frames", "/frames?night=2024-01-05", "/frames/1", "/frames/1/thumb.png",
                   "/frames/1/preview.png", "/frames/1/download", "/nodes", "/no-such-page"]
PROTECTED_API = ["/api/v1/frames", "/api/v1/frames/1", "/api/v1/nodes", "/api/v1/nothing"]


def test_login_required_everywhere_except_health_login_and_static(services, client):
    add_frame(services)
    for url in PROTECTED_PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
    for url in PROTECTED_API:
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.is_json and response.json == {"error": "authentication required"}
    assert client.get("/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/obsy.css").status_code == 200
    assert client.get("/static/obsy.js").status_code == 200


def test_login_then_logout(services, client):
    add_user(services)
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/frames"
    page = client.get("/frames")
    assert page.status_code == 200 and b"Logout" in page.data and b"admin" in page.data
    assert client.get("/login").headers["Location"] == "/frames"  # already logged in
    not_allowed = client.get("/logout")  # logging out changes state: POST only
    assert not_allowed.status_code == 405 and b"Method Not Allowed" in not_allowed.data
    assert client.post("/logout").headers["Location"] == "/login"
    assert client.get("/frames").status_code == 302


@pytest.mark.parametrize("username,password", [("admin", "wrong password"), ("nobody", PASSWORD), ("", "")])
def test_wrong_credentials_are_refused(services, client, username, password):
    add_user(services)
    response = login(client, username, password)
    assert response.status_code == 200
    assert b"Wrong username or password." in response.data or b"Enter a username and a password." in response.data
    assert client.get("/frames").status_code == 302


def test_inactive_user_cannot_log_in_and_is_logged_out(services, client):
    add_user(services, "sleeper", active=False)
    response = login(client, "sleeper")
    assert response.status_code == 200 and b"This account is disabled." in response.data

    user_id = add_user(services, "observer1")
    assert login(client, "observer1").status_code == 302
    assert client.get("/frames").status_code == 200
    with services.sessions() as session:
        session.get(User, user_id).active = False
        session.commit()
    assert client.get("/frames").status_code == 302


def test_changing_the_password_ends_other_sessions(services, client):
    user_id = add_user(services)
    login(client)
    assert client.get("/frames").status_code == 200
    with services.sessions() as session:
        session.get(User, user_id).password_hash = generate_password_hash("a new password", method=FAST_HASH)
        session.commit()
    assert client.get("/frames").status_code == 302


def test_next_page_is_followed_only_when_local(services, client):
    add_user(services)
    first = client.get("/nodes?x=1")
    assert first.headers["Location"] == "/login?next=/nodes?x%3D1"
    assert login(client, next_page="/nodes%3Fx%3D1").headers["Location"] == "/nodes?x=1"
    client.post("/logout")
    assert login(client, next_page="https://evil.example/").headers["Location"] == "/frames"
    client.post("/logout")
    assert login(client, next_page="//evil.example/").headers["Location"] == "/frames"


@pytest.mark.parametrize("target,expected", [
    ("/frames?page=2", "/frames?page=2"), ("/", "/"), (None, None), ("", None), ("frames", None),
    ("//evil.example", None), ("/\\evil.example", None), ("https://evil.example/x", None),
    ("/frames\r\nSet-Cookie: x", None), ("///evil.example", None), ("/\x7f", None),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def _csrf_token(html: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1).decode()


def test_csrf_is_enforced_on_the_login_and_logout_forms(services):
    add_user(services)
    client = make_app(services, csrf=True).test_client()
    refused = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 400 and b"security token" in refused.data
    assert client.get("/frames").status_code == 302

    token = _csrf_token(client.get("/login").data)
    accepted = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302

    page = client.get("/frames").data
    assert client.post("/logout").status_code == 400  # no token: still logged in
    assert client.get("/frames").status_code == 200
    logout_token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    assert client.post("/logout", data={"csrf_token": logout_token}).status_code == 302
    assert client.get("/frames").status_code == 302


def test_create_user_hashes_and_validates(services, client):
    user = create_user(services.sessions, " observer ", "long enough", role="observer")
    assert user.username == "observer" and user.role == "observer" and user.active
    with services.sessions() as session:
        stored = session.scalar(select(User).where(User.username == "observer"))
        assert stored.password_hash != "long enough"
        assert check_password_hash(stored.password_hash, "long enough")
    assert login(client, "observer", "long enough").status_code == 302

    with pytest.raises(UserError, match="already exists"):
        create_user(services.sessions, "observer", "another password")
    with pytest.raises(UserError, match="at least 8 characters"):
        create_user(services.sessions, "short", "1234567")
    with pytest.raises(UserError, match="unknown role"):
        create_user(services.sessions, "someone", "long enough", role="root")
    with pytest.raises(UserError, match="empty"):
        create_user(services.sessions, "  ", "long enough")
    with pytest.raises(UserError, match="longer than 80"):
        create_user(services.sessions, "x" * 81, "long enough")


def test_create_user_reports_a_race_as_a_duplicate(services, monkeypatch):
    # Another process adds the same name between the check and the commit.
    from master.web import auth
    real_select = auth.select
    monkeypatch.setattr(auth, "select", lambda *a: real_select(*a).where(User.id < 0))
    create_user(services.sessions, "twin", "long enough")
    with pytest.raises(UserError, match="already exists"):
        create_user(services.sessions, "twin", "long enough")


def test_generated_secret_key_is_kept_private_and_shared(services):
    key_file = paths.data_dir() / "secret_key"
    first = create_app(services).secret_key
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert create_app(services).secret_key == first and len(first) >= 32
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary files left


def test_secret_key_race_keeps_the_first_writer(tmp_path, monkeypatch):
    path = tmp_path / "secret_key"
    real_link = os.link

    def late_link(source, target):  # another worker wins between our read and our link
        path.write_text("k" * 64)
        return real_link(source, target)

    monkeypatch.setattr(os, "link", late_link)
    assert load_or_create_secret_key(path) == "k" * 64


def test_a_truncated_secret_key_file_is_an_error(tmp_path):
    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(RuntimeError, match="too short"):
        load_or_create_secret_key(tmp_path / "secret_key")


def test_configured_secret_key_and_secure_cookies(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch, web={"secret_key": "s" * 40, "public_url": "https://obs.example"})
    add_user(services)
    app = make_app(services)
    assert app.secret_key == "s" * 40
    assert not (paths.data_dir() / "secret_key").exists()
    response = login(app.test_client())
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    services.close()


def test_security_headers_and_cookie_flags(services, client):
    add_user(services)
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/frames")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers
    assert b"http://" not in page.data and b"https://" not in page.data  # nothing loads from the internet


def test_a_session_with_a_malformed_user_id_is_anonymous(services, client):
    add_user(services)
    login(client)
    with client.session_transaction() as session:
        session["_user_id"] = "admin:0000"
    assert client.get("/frames").status_code == 302


def test_health_reports_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"
    assert response.json["version"]


def test_health_version_from_a_source_tree(client, monkeypatch):
    from master.web import health

    def not_installed(name):
        raise health.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(health.metadata, "version", not_installed)
    assert client.get("/health").json["version"] == getattr(__import__("master"), "__version__", "unknown")


def test_health_reports_a_database_error(services, client, tmp_path):
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'obsy.db'}")
    services.sessions = sessionmaker(broken)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["database"].startswith("error: OperationalError")
