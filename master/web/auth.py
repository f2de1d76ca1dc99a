"""Log in and out (Flask-Login, rate limited), API tokens as logins, and portal users."""
from __future__ import annotations

import hashlib
import time
from functools import lru_cache

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from master.models import User
from . import tokens
from .context import db

bp = Blueprint("auth", __name__)

ROLES = ("admin", "observer", "guest")
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


def create_user(sessions, username: str, password: str, role: str = "admin") -> User:
    """Add a portal user with a hashed password; raises UserError with a clear reason."""
    username = (username or "").strip()
    if not username:
        raise UserError("the username is empty")
    if len(username) > 80:
        raise UserError("the username is longer than 80 characters")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    with sessions() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"a user named {username!r} already exists")
        user = User(username=username, password_hash=generate_password_hash(password), role=role, active=True)
        session.add(user)
        try:
            session.commit()
        except IntegrityError:  # created by someone else between the check and the commit
            session.rollback()
            raise UserError(f"a user named {username!r} already exists") from None
        return user


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new (hashed) password; every session of theirs then ends."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    user.password_hash = generate_password_hash(password)


class PortalUser(UserMixin):
    """What Flask-Login keeps for the request: a detached copy of the user row.

    The session id includes a fingerprint of the password hash, so changing a
    password logs out every other session of that user.
    """

    token_scope: str | None = None  # set when the request came with an API token

    def __init__(self, user: User):
        self.user_id = user.id
        self.username = user.username
        self.role = user.role
        self.active = bool(user.active)
        self.fingerprint = password_fingerprint(user.password_hash)

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.user_id}:{self.fingerprint}"


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def load_user(session_id: str) -> PortalUser | None:
    user_id, _, fingerprint = session_id.partition(":")
    if not user_id.isdigit() or _login_expired():
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active or password_fingerprint(user.password_hash) != fingerprint:
        return None
    return PortalUser(user)


def _login_expired() -> bool:
    """A login lasts [web] session_hours from the moment of logging in, however busy the session."""
    started = session.get("login_at")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return not isinstance(started, (int, float)) or time.time() - started > lifetime


def load_token_user(req) -> PortalUser | None:
    """Flask-Login's request loader: ``Authorization: Bearer <token>`` on the JSON API only."""
    token = tokens.bearer_token(req.headers.get("Authorization"))
    if token is None or not req.path.startswith("/api/v1/"):
        return None
    row = tokens.lookup(db(), token)
    if row is None:
        return None
    user = PortalUser(row.user)
    user.token_scope = row.scope
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a real password")


def authenticate(session, username: str, password: str) -> User | None:
    """The user when the password matches, else None (in about the same time either way)."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    # "//host" and "/\\host" leave the site; control characters could split headers.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    return target


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    destination = safe_next(request.args.get("next")) or url_for("frames.index")
    if current_user.is_authenticated:
        return redirect(destination)
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        throttle = current_app.extensions["obsy_login_throttle"]
        wait_s = throttle.retry_after(form.username.data, request.remote_addr)
        if wait_s > 0:
            minutes = max(1, round(wait_s / 60))
            error = f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
            return render_template("auth/login.html", form=form, error=error), 429
        user = authenticate(db(), form.username.data, form.password.data)
        if user is None:
            throttle.failed(form.username.data, request.remote_addr)
            error = "Wrong username or password."
        elif not user.active:
            error = "This account is disabled."
        else:
            throttle.succeeded(form.username.data)
            session.clear()  # a fresh session: nothing carried over from before login
            session.permanent = True  # the cookie expires after [web] session_hours
            session["login_at"] = time.time()
            login_user(PortalUser(user))
            return redirect(destination)
    elif request.method == "POST":
        error = "Enter a username and a password."
    return render_template("auth/login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
