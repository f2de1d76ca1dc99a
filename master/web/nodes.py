"""The nodes page: every node that has sent a heartbeat, online or not."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from sqlalchemy import select

from master.models import Node
from master.nodes import is_online
from .context import db, services
from .frames import REFRESH_HEADER, is_refresh

bp = Blueprint("nodes", __name__)


def node_rows() -> list[tuple[Node, bool]]:
    offline_after_s = services().config.nodes.offline_after_s
    nodes = db().scalars(select(Node).order_by(Node.name))
    return [(node, is_online(node, offline_after_s)) for node in nodes]


@bp.get("/nodes")
def index():
    rows = node_rows()
    template = "nodes/_list.html" if is_refresh() else "nodes/index.html"
    response = Response(render_template(template, rows=rows))
    response.vary.add(REFRESH_HEADER)
    return response
