"""The nodes page and its online/offline state."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from master.models import Node
from tests.unit.test_web_support import add_user, make_services


@pytest.fixture
def services(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch, nodes={"offline_after_s": 60})
    add_user(services)
    yield services
    services.close()


def add_node(services, name, seen_s_ago, **fields):
    seen = None if seen_s_ago is None else datetime.now(timezone.utc) - timedelta(seconds=seen_s_ago)
    with services.sessions() as session:
        session.add(Node(name=name, role=fields.pop("role", "telescope"), last_seen=seen, **fields))
        session.commit()


def row(html: str, name: str) -> str:
    return re.search(rf'<tr data-node="{name}".*?</tr>', html, re.S).group(0)


def test_no_nodes_yet(client):
    assert b"No node has reported yet" in client.get("/nodes").data


def test_nodes_are_listed_online_or_offline(services, client):
    add_node(services, "scope1", 12, software_version="0.1.0", state="exposing M31", spool_backlog=3)
    add_node(services, "roof", 3 * 3600, role="observatory", state="closed")
    add_node(services, "newbie", None)
    html = client.get("/nodes").data.decode()
    scope = row(html, "scope1")
    assert 'class="online"' in scope and "badge ok" in scope
    for text in ("telescope", "0.1.0", "exposing M31", "s ago", ">3<"):
        assert text in scope, text
    roof = row(html, "roof")
    assert 'class="offline"' in roof and "3 h ago" in roof and "observatory" in roof and "closed" in roof
    newbie = row(html, "newbie")
    assert 'class="offline"' in newbie and "never" in newbie and "title=" not in newbie
    assert html.index("newbie") < html.index("roof") < html.index("scope1")  # by name


def test_node_list_refresh_and_escaping(services, client):
    add_node(services, "scope1", 5, state="<b>busy</b>")
    html = client.get("/nodes", headers={"X-OBSY-Refresh": "1"}).data.decode()
    assert html.lstrip().startswith('<section id="node-list"') and "<html" not in html
    assert "&lt;b&gt;busy&lt;/b&gt;" in html and "<b>busy" not in html


def test_nodes_api(services, client):
    add_node(services, "scope1", 5, software_version="0.1.0", spool_backlog=2, detail={"camera": "sim"})
    add_node(services, "scope2", 600)
    items = client.get("/api/v1/nodes").json["items"]
    assert [(i["name"], i["online"]) for i in items] == [("scope1", True), ("scope2", False)]
    first = items[0]
    assert first["spool_backlog"] == 2 and first["detail"] == {"camera": "sim"} and first["role"] == "telescope"
    assert first["last_seen"].endswith("+00:00")


def test_job_progress_and_safety_verdicts_are_recorded_and_shown(services, client):
    from common.contracts import JobProgress, SafetyState
    from master.nodes import record_job_progress, record_safety

    now = datetime.now(timezone.utc)
    for offset, fields in enumerate([
            dict(state="started"), dict(state="slewing", target="M 13"),
            dict(state="exposing", target="M 13", filter_name="R", frame_index=3),
            dict(state="frame", target="M 13", filter_name="R", frame_index=3)]):
        record_job_progress(services.sessions, JobProgress(job_id="night-1", node="scope1", frame_total=12,
                                                           sent_at=now + timedelta(seconds=offset), **fields))
    # A late, older message does not roll the record back.
    record_job_progress(services.sessions, JobProgress(job_id="night-1", node="scope1", state="started",
                                                       sent_at=now - timedelta(seconds=5)))
    record_safety(services.sessions, SafetyState(node="roof1", state="safe", sent_at=now - timedelta(minutes=9)))
    record_safety(services.sessions, SafetyState(node="roof1", state="unsafe", reasons=["rain", "wind 45 km/h"]))
    html = client.get("/nodes").data.decode()
    job = re.search(r'<tr data-job="night-1".*?</tr>', html, re.S).group(0)
    assert "frame" in job and "M 13" in job and re.search(r"3\s*/\s*12", job)
    verdict = re.search(r'<tr data-safety="roof1".*?</tr>', html, re.S).group(0)
    assert "unsafe" in verdict and "rain; wind 45 km/h" in verdict
