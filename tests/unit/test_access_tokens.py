"""API tokens: shown once, stored as a hash, accepted as a bearer on /api/v1 only, revocable."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask import Blueprint, jsonify
from sqlalchemy import select

from master.cli import master_group
from master.models import ApiToken, User
from master.web.tokens import TokenError, bearer_token, create_token, hash_token
from tests.unit.test_web_support import add_frame, add_user, login, make_app


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _create_on_page(client, name="backup script", scope="read") -> str:
    page = client.post("/account/tokens", data={"name": name, "scope": scope})
    assert page.status_code == 200 and b"shown only this once" in page.data
    return re.search(r'<code class="token">([^<]+)</code>', page.get_data(as_text=True)).group(1)


def test_a_token_made_on_the_account_page_works_once_shown(services, client):
    add_frame(services)
    token = _create_on_page(client)
    with services.sessions() as session:
        row = session.scalar(select(ApiToken))
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        assert row.scope == "read" and row.last_used_at is None
    assert token.encode() not in client.get("/account").data  # never shown again

    script = make_app(services).test_client()  # no session cookie
    assert script.get("/api/v1/frames").status_code == 401
    response = script.get("/api/v1/frames", headers=_bearer(token))
    assert response.status_code == 200 and response.json["total"] == 1
    assert "Set-Cookie" not in response.headers  # a token does not open a session
    assert script.get("/api/v1/frames").status_code == 401
    with services.sessions() as session:
        assert session.scalar(select(ApiToken)).last_used_at is not None


def test_tokens_are_refused_outside_the_api_and_when_wrong(services, client):
    token = _create_on_page(client)
    script = make_app(services).test_client()
    assert script.get("/frames", headers=_bearer(token)).status_code == 302
    assert script.get("/api/v1/frames", headers=_bearer(token + "x")).status_code == 401
    assert script.get("/api/v1/frames", headers={"Authorization": f"Basic {token}"}).status_code == 401


def test_revoked_tokens_and_tokens_of_deactivated_users_are_refused(services, client):
    token = _create_on_page(client)
    script = make_app(services).test_client()
    assert script.get("/api/v1/nodes", headers=_bearer(token)).status_code == 200
    token_id = int(re.search(rb'data-token="(\d+)"', client.get("/account").data).group(1))
    response = client.post(f"/account/tokens/{token_id}/revoke", follow_redirects=True)
    assert b"token backup script revoked" in response.data and b"revoked 20" in response.data
    assert script.get("/api/v1/nodes", headers=_bearer(token)).status_code == 401

    second = _create_on_page(client, "other")
    with services.sessions() as session:
        session.scalar(select(User).where(User.username == "admin")).active = False
        session.commit()
    assert script.get("/api/v1/nodes", headers=_bearer(second)).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(services, client):
    _create_on_page(client)
    add_user(services, "ann", role="observer")
    other = make_app(services).test_client()
    login(other, "ann")
    with services.sessions() as session:
        token_id = session.scalar(select(ApiToken.id))
    assert other.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    with services.sessions() as session:
        assert session.scalar(select(ApiToken.revoked_at)) is None


def test_token_form_errors(client):
    missing = client.post("/account/tokens", data={"scope": "read"}, follow_redirects=True)
    assert b"name: This field is required." in missing.data
    bad_scope = client.post("/account/tokens", data={"name": "x", "scope": "root"}, follow_redirects=True)
    assert b"scope: Not a valid choice" in bad_scope.data
    blank = client.post("/account/tokens", data={"name": "   ", "scope": "read"}, follow_redirects=True)
    assert b"name: This field is required." in blank.data


def test_a_read_token_may_only_read(services):
    app = make_app(services)
    writer = Blueprint("writer", __name__)
    writer.add_url_rule("/api/v1/echo", "echo", lambda: jsonify(ok=True), methods=["POST"])
    app.register_blueprint(writer)
    from master.web import access
    access.ACCESS["writer.echo"] = "observer"
    try:
        client = app.test_client()
        login(client)
        read, write = _create_on_page(client, "r", "read"), _create_on_page(client, "w", "write")
        script = app.test_client()
        assert script.post("/api/v1/echo", headers=_bearer(read)).status_code == 403
        assert script.post("/api/v1/echo", headers=_bearer(write)).json == {"ok": True}
    finally:
        del access.ACCESS["writer.echo"]


def test_guests_only_get_read_tokens(services):
    guest = User(id=1, username="g", password_hash="x", role="guest", active=True)
    with services.sessions() as session, pytest.raises(TokenError, match="read tokens"):
        create_token(session, guest, "x", "write")
    with services.sessions() as session:
        with pytest.raises(TokenError, match="1 to 80 characters"):
            create_token(session, guest, " ", "read")
        with pytest.raises(TokenError, match="unknown scope"):
            create_token(session, guest, "x", "admin")


def test_bearer_header_parsing():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Bearer ") is None
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def _config(tmp_path):
    path = tmp_path / "master.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n'
                    f'[store]\nkind = "local"\npath = "{tmp_path / "store"}"\n')
    return str(path)


def test_cli_creates_users_and_tokens_and_revokes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    config, runner = _config(tmp_path), CliRunner()
    made = runner.invoke(master_group, ["user", "create", "--config", config, "ann", "--role", "guest",
                                        "--password", "long enough"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(master_group, ["user", "list", "--config", config])
    assert "ann\tguest\tactive" in listed.output
    duplicate = runner.invoke(master_group, ["user", "create", "--config", config, "ann", "--password", "long enough"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output

    created = runner.invoke(master_group, ["token", "create", "--config", config, "ann", "night script"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("obsy_") and "shown only now" in created.stderr
    refused = runner.invoke(master_group, ["token", "create", "--config", config, "ann", "x", "--scope", "write"])
    assert refused.exit_code != 0 and "read tokens" in refused.output
    nobody = runner.invoke(master_group, ["token", "create", "--config", config, "nobody", "x"])
    assert nobody.exit_code != 0 and "no user named 'nobody'" in nobody.output

    from common.config import load_config
    from master.services import MasterServices
    services = MasterServices(load_config("master", config), migrate=False)
    try:
        script = make_app(services).test_client()
        assert script.get("/api/v1/targets", headers=_bearer(token)).status_code == 200
        with services.sessions() as session:
            token_id = session.scalar(select(ApiToken.id))
        revoked = runner.invoke(master_group, ["token", "revoke", "--config", config, str(token_id)])
        assert revoked.exit_code == 0 and f"token {token_id} revoked" in revoked.output
        assert script.get("/api/v1/targets", headers=_bearer(token)).status_code == 401
        missing = runner.invoke(master_group, ["token", "revoke", "--config", config, "999"])
        assert missing.exit_code != 0 and "no token with id 999" in missing.output
    finally:
        services.close()
