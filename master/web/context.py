"""Per-request access to the master's services and one database session per request."""
from __future__ import annotations

from flask import abort, current_app, g
from sqlalchemy.orm import Session


def services():
    return current_app.extensions["obsy"]


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = services().sessions()
    return g.db


def close_db(_exc=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def get_or_404(model, ident):
    row = db().get(model, ident)
    if row is None:
        abort(404)
    return row
