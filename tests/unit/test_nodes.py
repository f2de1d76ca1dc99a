from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from common.contracts import NodeHeartbeat
from master.db import make_engine, make_sessionmaker
from master.migrate import upgrade_engine
from master.models import Node
from master.nodes import is_online, record_heartbeat


def test_heartbeats_update_the_node_and_late_ones_are_ignored(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade_engine(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(timezone.utc)
    record_heartbeat(sessions, NodeHeartbeat(node="scope1", role="telescope", software_version="0.1",
                                             state="imaging M31", spool_backlog=4, sent_at=now))
    record_heartbeat(sessions, NodeHeartbeat(node="scope1", role="telescope", software_version="0.1",
                                             state="stale", spool_backlog=9, sent_at=now - timedelta(minutes=5)))
    with sessions() as session:
        node = session.scalar(select(Node))
    assert (node.state, node.spool_backlog) == ("imaging M31", 4)
    assert is_online(node, offline_after_s=120, now=now + timedelta(seconds=60))
    assert not is_online(node, offline_after_s=120, now=now + timedelta(seconds=121))
