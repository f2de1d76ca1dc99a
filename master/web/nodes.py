"""The nodes page: every node that has sent a heartbeat, online or not."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from sqlalchemy import func, select

from master.models import JobRecord, Node, SafetyRecord
from master.nodes import is_online
from .context import db, services
from .frames import REFRESH_HEADER, is_refresh

bp = Blueprint("nodes", __name__)


def node_rows() -> list[tuple[Node, bool]]:
    offline_after_s = services().config.nodes.offline_after_s
    nodes = db().scalars(select(Node).order_by(Node.name))
    return [(node, is_online(node, offline_after_s)) for node in nodes]


def recent_jobs(limit: int = 20) -> list[JobRecord]:
    return list(db().scalars(select(JobRecord).order_by(JobRecord.updated_at.desc()).limit(limit)))


def latest_safety() -> list[SafetyRecord]:
    """The newest verdict of each observatory node."""
    newest = (select(SafetyRecord.node_name, func.max(SafetyRecord.id).label("id"))
              .group_by(SafetyRecord.node_name).subquery())
    return list(db().scalars(select(SafetyRecord).join(newest, SafetyRecord.id == newest.c.id)
                             .order_by(SafetyRecord.node_name)))


@bp.get("/nodes")
def index():
    rows = node_rows()
    template = "nodes/_list.html" if is_refresh() else "nodes/index.html"
    response = Response(render_template(template, rows=rows, jobs=recent_jobs(), safety=latest_safety()))
    response.vary.add(REFRESH_HEADER)
    return response
