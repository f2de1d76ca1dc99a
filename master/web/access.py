"""Who may reach which endpoint: one explicit rule per endpoint, checked before every request.

The rule is the least role an endpoint needs; roles are ranked anonymous < guest <
observer < admin. An endpoint missing from ``ACCESS`` is refused for everyone,
so a new route cannot go live before someone has decided who may use it.
Guests are read-only whatever the table says: they may only log out.
API tokens act for their user; a "read" token may only read.
"""
from __future__ import annotations

from flask import abort, current_app, jsonify, make_response, redirect, request, url_for
from flask_login import current_user

ROLE_RANK = {"anonymous": 0, "guest": 1, "observer": 2, "admin": 3}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GUEST_MAY_POST = frozenset({"auth.logout"})

ACCESS: dict[str, str] = {
    # open to everyone
    "static": "anonymous",
    "health.health": "anonymous",
    "auth.login": "anonymous",
    "public.targets": "anonymous",
    "public.api_targets": "anonymous",
    # The view itself refuses (404) a frame that is not public and whose target is not public.
    "public.preview": "anonymous",
    # any logged-in user: reading
    "index": "guest",
    "auth.logout": "guest",
    "account.index": "guest",
    "frames.index": "guest",
    "frames.detail": "guest",
    "frames.thumb": "guest",
    "frames.preview": "guest",
    "frames.download": "guest",
    "calibration.index": "guest",
    # The viewer and a frame's direct link: anonymous visitors only for frames marked public, which the
    # views check (``public_or_login``); anything else sends them to log in, as for a guest route.
    "viewer.frame": "anonymous",
    "viewer.info": "anonymous",
    "viewer.tile": "anonymous",
    "viewer.pixel": "anonymous",
    "viewer.stars": "anonymous",
    "viewer.download": "anonymous",
    "links.api_frame_link": "anonymous",
    "public.api_frames": "anonymous",
    "public.api_weather": "anonymous",
    # any FITS object by key (masters, stacks): logged-in users
    "viewer.object_": "guest",
    "nodes.index": "guest",
    "observatory.index": "guest",
    "observatory.api_safety": "guest",
    "targets.index": "guest",
    "targets.detail": "guest",
    "stacks.preview": "guest",
    "targets.export": "guest",
    "targets.api_list": "guest",
    "targets.api_search": "guest",
    "api.frames": "guest",
    "api.frame": "guest",
    "api.nodes": "guest",
    "equipment.index": "guest",
    "equipment.item": "guest",
    "plans.index": "guest",
    "plans.detail": "guest",
    "plans.api_list": "guest",
    "plans.api_plan": "guest",
    "tonight.index": "guest",
    "tonight.ekos": "guest",
    "science.runs": "guest",
    "science.run": "guest",
    "science.download": "guest",
    "reports.target": "guest",
    "reports.target_csv": "guest",
    "reports.nights": "guest",
    "reports.night": "guest",
    "reports.night_csv": "guest",
    "reports.night_safety_csv": "guest",
    # observers: the roof (the node's own interlock still decides)
    "observatory.roof_command": "observer",
    # observers: targets and their own account
    "targets.add_catalog": "observer",
    "targets.add_coordinates": "observer",
    "targets.delete": "observer",
    "targets.import_": "observer",
    # observers: sites and equipment
    "equipment.add": "observer",
    "equipment.edit": "observer",
    "equipment.remove": "observer",
    # observers: imaging plans
    "plans.add": "observer",
    "plans.edit": "observer",
    "plans.add_row": "observer",
    "plans.delete_row": "observer",
    "plans.remove": "observer",
    "tonight.send": "observer",
    "tonight.replan": "observer",
    # observers: science runs (the worker does the measuring)
    "science.start_run": "observer",
    "science.fit_transit": "observer",
    "stacks.start": "observer",
    "frames.set_public": "observer",
    "account.password": "observer",
    "account.create_token": "observer",
    "account.revoke_token": "observer",
    # admins: users
    "users.index": "admin",
    "users.create": "admin",
    "users.set_active": "admin",
    "users.reset_password": "admin",
    "users.set_role": "admin",
    "users.delete_user": "admin",
}


def role_of(user) -> str:
    return user.role if user.is_authenticated else "anonymous"


def allowed(endpoint: str, user=None, method: str = "GET") -> bool:
    """May ``user`` (default: the request's) use ``endpoint`` with ``method``?"""
    user = current_user if user is None else user
    needed = ACCESS.get(endpoint)
    if needed is None:
        return False
    role = role_of(user)
    if ROLE_RANK.get(role, 0) < ROLE_RANK[needed]:
        return False
    if method not in SAFE_METHODS and needed != "anonymous":
        if role == "guest" and endpoint not in GUEST_MAY_POST:
            return False
        if getattr(user, "token_scope", None) == "read":
            return False
    return True


def login_answer():
    """What an anonymous visitor gets for something that needs a login: 401 from the API, else the login page."""
    if request.path.startswith("/api/"):
        return jsonify(error="authentication required"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def public_or_login(is_public) -> None:
    """In a view open to anonymous visitors: go on if the visitor is logged in or ``is_public()`` is true,
    otherwise stop with ``login_answer()`` (the same answer as for any guest route: no hint the item exists)."""
    if current_user.is_authenticated or is_public():
        return
    abort(make_response(login_answer()))


def enforce_access():
    """``before_request``: the login page, a 401, a 403, or nothing (go ahead)."""
    endpoint = request.endpoint
    if endpoint is None:  # no such URL or method: a 404/405, but only for users who are logged in
        endpoint = "index"
    elif endpoint not in ACCESS:
        current_app.logger.error("endpoint %s has no access rule; refused", endpoint)
        abort(403)
    if allowed(endpoint, current_user, request.method):
        return None
    if not current_user.is_authenticated:
        return login_answer()
    abort(403)
