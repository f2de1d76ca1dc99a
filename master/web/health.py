"""``GET /health``: is the portal up and can it reach its database? No login."""
from __future__ import annotations

from importlib import metadata

from flask import Blueprint, jsonify
from sqlalchemy import text

from .context import db

bp = Blueprint("health", __name__)


def software_version() -> str:
    try:
        return metadata.version("obsy")
    except metadata.PackageNotFoundError:  # running from a source tree
        import master
        return getattr(master, "__version__", "unknown")


@bp.get("/health")
def health():
    try:
        db().execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # any failure is reported, not raised
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        database = f"error: {type(exc).__name__}: {detail}".rstrip(": ")
    ok = database == "ok"
    body = {"status": "ok" if ok else "error", "database": database, "version": software_version()}
    return jsonify(body), 200 if ok else 503
