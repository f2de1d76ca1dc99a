"""User management for admins: list, create, deactivate or reactivate, reset a password."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from master.models import ApiToken, User
from .auth import ROLES, UserError, create_user, set_password
from .context import db, get_or_404, services

bp = Blueprint("users", __name__)


class CreateUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    role = SelectField("Role", choices=list(ROLES), default="observer")
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActiveForm(FlaskForm):
    active = HiddenField(validators=[AnyOf(["0", "1"])])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


@bp.get("/users")
def index():
    users = db().scalars(select(User).order_by(User.username))
    live_tokens = dict(db().execute(select(ApiToken.user_id, func.count(ApiToken.id))
                                    .where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id)).all())
    return render_template("users/index.html", users=list(users), live_tokens=live_tokens,
                           create_form=CreateUserForm(), reset_form=ResetPasswordForm())


def _flash_form_errors(form) -> None:
    for field, errors in form.errors.items():
        flash(f"{field}: {'; '.join(errors)}", "error")


@bp.post("/users")
def create():
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            create_user(services().sessions, form.username.data, form.password.data, form.role.data)
            flash(f"{form.username.data.strip()} created as {form.role.data}", "ok")
        except UserError as exc:
            flash(str(exc), "error")
    else:
        _flash_form_errors(form)
    return redirect(url_for("users.index"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400)
    user = get_or_404(User, user_id)
    active = form.active.data == "1"
    if not active and user.id == current_user.user_id:
        flash("You cannot deactivate your own account.", "error")
    else:
        user.active = active
        db().commit()
        flash(f"{user.username} {'reactivated' if active else 'deactivated'}", "ok")
    return redirect(url_for("users.index"))


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    form = ResetPasswordForm()
    user = get_or_404(User, user_id)
    if form.validate_on_submit():
        try:
            set_password(user, form.password.data)
            db().commit()
            flash(f"new password set for {user.username}; their sessions have ended", "ok")
        except UserError as exc:
            flash(str(exc), "error")
    else:
        _flash_form_errors(form)
    return redirect(url_for("users.index"))
