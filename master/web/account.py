"""A user's own page: change the password, create and revoke API tokens."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from master.models import ApiToken, User
from . import tokens
from .auth import PortalUser, UserError, set_password
from .context import db

bp = Blueprint("account", __name__)


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("New password again",
                            validators=[DataRequired(), EqualTo("new", message="the new passwords differ")])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)], description="what the script is")
    scope = SelectField("Scope", choices=list(tokens.SCOPES), default="read")


def _me() -> User:
    return db().get(User, current_user.user_id)


def _page(new_token: str | None = None):
    rows = db().scalars(select(ApiToken).where(ApiToken.user_id == current_user.user_id)
                        .order_by(ApiToken.created_at.desc()))
    return render_template("account/index.html", tokens=list(rows), new_token=new_token,
                           password_form=PasswordForm(), token_form=TokenForm())


@bp.get("/account")
def index():
    return _page()


@bp.post("/account/password")
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = _me()
        if not check_password_hash(user.password_hash, form.current.data):
            flash("The current password is wrong.", "error")
        else:
            try:
                set_password(user, form.new.data)
                db().commit()
                login_user(PortalUser(user))  # this session goes on; all others end
                flash("Password changed; your other sessions have ended.", "ok")
            except UserError as exc:
                flash(str(exc), "error")
    else:
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
    return redirect(url_for("account.index"))


@bp.post("/account/tokens")
def create_token():
    """The new token is shown in this response only (never flashed: the session cookie is readable)."""
    form = TokenForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return redirect(url_for("account.index"))
    # The form has checked name and scope, and guests cannot get here: no TokenError is left to catch.
    _row, token = tokens.create_token(db(), _me(), form.name.data, form.scope.data)
    db().commit()
    return _page(new_token=token)


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    row = db().get(ApiToken, token_id)
    if row is None or row.user_id != current_user.user_id:
        abort(404)
    tokens.revoke(row)  # CSRFProtect has already checked the form's token
    db().commit()
    flash(f"token {row.name} revoked", "ok")
    return redirect(url_for("account.index"))
