"""Node registry: heartbeats in, online/offline out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from common.contracts import NodeHeartbeat
from .models import Node


def record_heartbeat(sessions, beat: NodeHeartbeat) -> None:
    with sessions() as session:
        node = session.scalar(select(Node).where(Node.name == beat.node))
        if node is None:
            node = Node(name=beat.node, role=beat.role)
            session.add(node)
        # An old heartbeat delivered late must not roll the state back.
        if node.last_seen is not None and _aware(node.last_seen) > beat.sent_at:
            return
        node.role = beat.role
        node.software_version = beat.software_version
        node.state = beat.state[:60]
        node.spool_backlog = beat.spool_backlog
        node.detail = beat.detail
        node.last_seen = beat.sent_at
        session.commit()


def _aware(when: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone columns.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def is_online(node: Node, offline_after_s: float, now: datetime | None = None) -> bool:
    if node.last_seen is None:
        return False
    now = now or datetime.now(timezone.utc)
    return now - _aware(node.last_seen) <= timedelta(seconds=offline_after_s)
