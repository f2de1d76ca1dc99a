"""`obsy master web` under gunicorn on PostgreSQL: health, login with CSRF, the API."""
from __future__ import annotations

import re
import socket

import requests

from .helpers import private_env, run_obsy, start_obsy, stop_group, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_master(tmp_path, database_url: str):
    """(config path, environment) of a migrated master with the admin ana, its store under tmp_path."""
    config = tmp_path / "master.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n'
                      f'[store]\npath = "{tmp_path / "repo"}"\n[web]\nsecret_key = "test-secret-key-0123456789"\n')
    env = private_env(tmp_path)
    run_obsy(["master", "migrate", "--config", str(config)], env)
    run_obsy(["master", "create-admin", "--config", str(config), "ana", "--password", "dark skies 7"], env)
    return config, env


def start_portal(config, tmp_path, env, workers: int):
    """(process, base URL) of `obsy master web` on a free port, once it answers /health."""
    port = free_port()
    web = start_obsy(["master", "web", "--config", str(config), "--bind", f"127.0.0.1:{port}",
                      "--workers", str(workers)], tmp_path / "web.log", env)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(f"{base}/health", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or a worker still booting
            return False

    try:
        wait_for(healthy, 30, "gunicorn to answer /health")
    except BaseException:
        stop_group(web)
        raise
    return web, base


def test_gunicorn_portal_on_postgres(postgres, tmp_path):
    config, env = prepare_master(tmp_path, postgres.create_database("web"))
    web, base = start_portal(config, tmp_path, env, workers=2)
    try:
        assert requests.get(f"{base}/health", timeout=5).json()["database"] == "ok"
        assert requests.get(f"{base}/api/v1/frames", timeout=5).status_code == 401
        session = requests.Session()
        form = session.get(f"{base}/login", timeout=5).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        refused = session.post(f"{base}/login", data={"username": "ana", "password": "dark skies 7"}, timeout=5)
        assert "/login" in refused.url or refused.status_code == 400  # no CSRF token: refused
        answer = session.post(f"{base}/login", timeout=5,
                              data={"username": "ana", "password": "dark skies 7", "csrf_token": token})
        assert answer.url.endswith("/frames"), answer.url
        # Several workers share one session key: every request is served logged in.
        for _ in range(6):
            listing = session.get(f"{base}/api/v1/frames", timeout=5)
            assert listing.status_code == 200 and listing.json()["total"] == 0
    finally:
        stop_group(web)
    assert "Booting worker" in (tmp_path / "web.log").read_text()
