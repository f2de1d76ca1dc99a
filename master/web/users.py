"""User management for admins: list, create, change a role, deactivate, reset a password, delete.

Whatever an admin does here, at least one active admin remains: the portal cannot be locked out.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import delete, func, select
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


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES))


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


class DeleteForm(FlaskForm):
    """The admin types the username again: a delete cannot be undone."""
    confirm = StringField("Type the username to confirm", validators=[DataRequired(), Length(max=80)])


@bp.get("/users")
def index():
    users = db().scalars(select(User).order_by(User.username))
    live_tokens = dict(db().execute(select(ApiToken.user_id, func.count(ApiToken.id))
                                    .where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id)).all())
    return render_template("users/index.html", users=list(users), live_tokens=live_tokens,
                           create_form=CreateUserForm(), reset_form=ResetPasswordForm(), roles=ROLES)


def _flash_form_errors(form) -> None:
    for field, errors in form.errors.items():
        flash(f"{field}: {'; '.join(errors)}", "error")


def _is_last_admin(user: User) -> bool:
    """Would taking the admin role from ``user`` leave no active admin?

    Deactivating and deleting need no such check: an admin cannot do either to themselves, so the
    acting admin remains."""
    if user.role != "admin" or not user.active:
        return False
    others = db().scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True),
                                                           User.id != user.id))
    return others == 0


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


@bp.post("/users/<int:user_id>/role")
def set_role(user_id: int):
    form = RoleForm()
    user = get_or_404(User, user_id)
    if not form.validate_on_submit():
        _flash_form_errors(form)
    elif form.role.data != user.role and _is_last_admin(user):
        flash(f"{user.username} is the last active admin; make another admin first.", "error")
    elif form.role.data != user.role:
        user.role = form.role.data
        db().commit()  # the next request of theirs loads the new role
        flash(f"{user.username} is now {user.role}", "ok")
        if user.id == current_user.user_id and user.role != "admin":
            return redirect(url_for("account.index"))  # the users page is no longer theirs
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
    else:  # the acting admin stays active, so another admin always remains
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


@bp.post("/users/<int:user_id>/delete")
def delete_user(user_id: int):
    form = DeleteForm()
    user = get_or_404(User, user_id)
    if not form.validate_on_submit():
        _flash_form_errors(form)
    elif form.confirm.data.strip() != user.username:
        flash(f"Type {user.username} to confirm deleting that account.", "error")
    elif user.id == current_user.user_id:
        flash("You cannot delete your own account.", "error")
    else:  # the acting admin remains, so the portal keeps an admin
        # SQLite enforces no ON DELETE CASCADE without a pragma: the tokens go explicitly.
        db().execute(delete(ApiToken).where(ApiToken.user_id == user.id))
        db().delete(user)
        db().commit()
        flash(f"{user.username} deleted, with their API tokens", "ok")
    return redirect(url_for("users.index"))
