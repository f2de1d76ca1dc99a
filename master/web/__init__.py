"""The master portal: a Flask application factory with one blueprint per area.

``create_app(services)`` is the only entry point; gunicorn and the tests call it
with a ``MasterServices``. Nothing here reaches for globals: the services live
in ``app.extensions["obsy"]`` and every request gets its own database session
(see ``master.web.context``).
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from common import paths
from . import (account, api, auth, calibration, equipment, frames, health, links, nodes, observatory, plans, public,
               reports, science, stacks, targets, tonight, users, viewer)
from .access import allowed, enforce_access
from .context import close_db
from .formatting import register_filters

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # master/
REFRESH_SECONDS = 10

from .throttle import LoginThrottle

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def create_app(services) -> Flask:
    """Build the portal around a ``MasterServices`` (config, database, object store)."""
    app = Flask(__name__, template_folder=str(PACKAGE_DIR / "templates"),
                static_folder=str(PACKAGE_DIR / "static"), static_url_path="/static")
    app.extensions["obsy"] = services
    web = services.config.web
    secure = web.public_url.lower().startswith("https")
    app.config.update(
        SECRET_KEY=web.secret_key or load_or_create_secret_key(paths.data_dir() / "secret_key"),
        SESSION_COOKIE_NAME="obsy_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # a login lasts session_hours, active or not
        OBSY_REFRESH_SECONDS=REFRESH_SECONDS,
        OBSY_HTTPS=secure,
    )

    CSRFProtect(app)
    login_manager = LoginManager(app)
    login_manager.user_loader(auth.load_user)
    login_manager.request_loader(auth.load_token_user)
    app.extensions["obsy_login_throttle"] = LoginThrottle()

    for module in (auth, account, users, public, health, frames, calibration, nodes, observatory, targets, equipment,
                   plans, tonight, api, links, viewer, science, reports, stacks):
        app.register_blueprint(module.bp)
    register_filters(app)

    app.before_request(enforce_access)
    app.after_request(_security_headers)
    app.teardown_appcontext(close_db)
    app.register_error_handler(CSRFError, _csrf_error)
    for code in (400, 403, 404, 405, 429, 503):
        app.register_error_handler(code, _http_error)

    @app.get("/")
    def index():
        return redirect(url_for("frames.index"))

    @app.context_processor
    def _globals():
        return {"refresh_seconds": app.config["OBSY_REFRESH_SECONDS"], "allowed": allowed}

    return app


def load_or_create_secret_key(path: Path) -> str:
    """Read the key kept in ``path``, creating it once if it is missing.

    Several gunicorn workers may start together: each writes a complete key to
    its own temporary file and hard-links it into place; ``link`` fails for all
    but the first, and those then read the winner's key.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"secret key file {path} is empty or too short; delete it to generate a new one")
    return key


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        # Pages show private data: keep them out of shared and back-button caches.
        headers["Cache-Control"] = "no-store"
    if current_app.config["OBSY_HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _csrf_error(_error):
    # The JSON API is GET-only, so only the portal's forms can get here.
    return render_template("error.html", title="Form expired",
                           message="The form was missing its security token or it has expired. "
                                   "Reload the page and try again."), 400


def _http_error(error: HTTPException):
    """JSON for the API, the portal's own page for everything else."""
    if _is_api():
        return jsonify(error=error.name.lower()), error.code
    message = "There is nothing at this address." if error.code == 404 else error.description
    return render_template("error.html", title=error.name, message=message), error.code
