"""The observatory page: each observatory node's safety history and roof, and people's roof commands.

A roof command is published on the event bus for the node to carry out under its own interlock
(it refuses an open while the sky is not safe, and a command that arrives late). The page shows
the node's answer once the master worker has recorded it.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from common import names
from common.contracts import NODE_NAME_PATTERN, ROOF_ACTIONS, RoofCommand
from master.models import Node, RoofCommandRecord, RoofRecord, SafetyRecord
from master.safety_timeline import stretches
from .context import db, services

bp = Blueprint("observatory", __name__)
WINDOWS_H = (6, 24, 72, 168)
STALE_S = 600.0  # nodes republish their verdict every few minutes; silence longer than this is "no data"


def _hours() -> int:
    try:
        hours = int(request.args.get("hours", 24))
    except ValueError:
        abort(400, "hours must be a whole number")
    if not 1 <= hours <= 24 * 31:
        abort(400, "hours must be between 1 and 744")
    return hours


def observatory_nodes() -> list[str]:
    """Every observatory node the master has heard of, or sent a command to."""
    seen = set(db().scalars(select(SafetyRecord.node_name).distinct()))
    seen |= set(db().scalars(select(RoofRecord.node_name).distinct()))
    seen |= set(db().scalars(select(RoofCommandRecord.node_name).distinct()))
    seen |= set(db().scalars(select(Node.name).where(Node.role == "observatory")))
    return sorted(seen)


def safety_records(node: str, start: datetime, end: datetime) -> list[SafetyRecord]:
    before = db().scalars(select(SafetyRecord).where(SafetyRecord.node_name == node, SafetyRecord.at < start)
                          .order_by(SafetyRecord.at.desc()).limit(1)).first()
    inside = list(db().scalars(select(SafetyRecord).where(SafetyRecord.node_name == node, SafetyRecord.at >= start,
                                                          SafetyRecord.at <= end).order_by(SafetyRecord.at)))
    return ([before] if before else []) + inside


def changes(records: list[SafetyRecord]) -> list[SafetyRecord]:
    out, last = [], None
    for record in records:
        if record.state != last:
            out.append(record)
            last = record.state
    return out


def node_view(node: str, start: datetime, end: datetime) -> dict:
    records = safety_records(node, start, end)
    roof = db().scalars(select(RoofRecord).where(RoofRecord.node_name == node)
                        .order_by(RoofRecord.at.desc()).limit(1)).first()
    commands = list(db().scalars(select(RoofCommandRecord).where(RoofCommandRecord.node_name == node)
                                 .order_by(RoofCommandRecord.sent_at.desc()).limit(10)))
    return {"name": node, "latest": records[-1] if records else None,
            "stretches": stretches(records, start, end, STALE_S),
            "changes": list(reversed(changes(records)))[:20],
            "roof": roof, "commands": commands}


@bp.get("/observatory")
def index():
    hours = _hours()
    end = datetime.now(timezone.utc)
    start = end - timedelta(hours=hours)
    views = [node_view(node, start, end) for node in observatory_nodes()]
    return render_template("observatory/index.html", views=views, hours=hours, windows=WINDOWS_H, start=start,
                           window_s=hours * 3600.0, actions=ROOF_ACTIONS)


@bp.post("/observatory/<node>/roof")
def roof_command(node: str):
    action = request.form.get("action", "")
    if not re.fullmatch(NODE_NAME_PATTERN.strip("^$"), node):
        abort(404)
    if action not in ROOF_ACTIONS:
        flash(f"unknown roof command {action!r}", "error")
        return redirect(url_for("observatory.index"))
    command = RoofCommand(node=node, action=action, command_id=secrets.token_hex(8), user=current_user.username)
    try:
        services().bus.publish(names.roof_command_key(node), command)
    except Exception as exc:  # the broker is down: say so, record nothing as sent
        flash(f"the command could not be sent: {exc}", "error")
        return redirect(url_for("observatory.index"))
    db().add(RoofCommandRecord(command_id=command.command_id, node_name=node, action=action,
                               user_name=current_user.username, sent_at=command.sent_at))
    db().commit()
    flash(f"{action} sent to {node}; its answer appears below", "ok")
    return redirect(url_for("observatory.index"))


@bp.get("/api/v1/safety")
def api_safety():
    hours = _hours()
    end = datetime.now(timezone.utc)
    start = end - timedelta(hours=hours)
    node = request.args.get("node", "")
    nodes = [node] if node else observatory_nodes()
    out = []
    for n in nodes:
        records = safety_records(n, start, end)
        out.append({"node": n,
                    "records": [{"state": r.state, "reasons": r.reasons or [], "at": r.at.isoformat()} for r in records],
                    "stretches": [{"state": s.state, "start": s.start.isoformat(), "end": s.end.isoformat()}
                                  for s in stretches(records, start, end, STALE_S)]})
    return jsonify({"hours": hours, "nodes": out})
