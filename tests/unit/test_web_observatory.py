"""The observatory page: safety timeline, roof state, roof commands sent to the node and its answers."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest

from common import names
from common.contracts import RoofCommand, RoofCommandResult, RoofState, SafetyState
from common.events import InProcessEventBus
from master.models import RoofCommandRecord, SafetyRecord
from master.nodes import record_roof_result, record_roof_state, record_safety
from master.safety_timeline import stretches
from tests.unit.test_web_support import add_user, login, make_app, make_services

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)


class Rec:
    def __init__(self, state, minutes_before_now, reasons=()):
        self.state, self.at, self.reasons = state, NOW - timedelta(minutes=minutes_before_now), list(reasons)


def test_stretches_merge_repeats_and_show_silence_as_no_data():
    start = NOW - timedelta(hours=2)
    records = [Rec("safe", 150), Rec("safe", 100), Rec("unsafe", 90, ["rain"]), Rec("unsafe", 85),
               Rec("safe", 60), Rec("safe", 55)]  # then silence for 55 min
    parts = stretches(records, start, NOW, stale_s=600)
    assert [(p.state, round((p.start - start).total_seconds() / 60), round((p.end - start).total_seconds() / 60))
            for p in parts] == [("no data", 0, 20), ("safe", 20, 30), ("unsafe", 30, 45), ("no data", 45, 60),
                                ("safe", 60, 75), ("no data", 75, 120)]
    assert parts[2].reasons == ("rain",)
    assert sum(p.w_pct(7200) for p in parts) == pytest.approx(100)
    assert stretches([], start, NOW, 600)[0].state == "no data"


@pytest.fixture
def services(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    services._bus = InProcessEventBus()
    add_user(services)
    add_user(services, "guest", role="guest")
    yield services
    services.close()


def seed(services):
    now = datetime.now(timezone.utc)
    for minutes, state, reasons in ((300, "safe", []), (120, "unsafe", ["rain: 1"]), (30, "unknown", ["kp: stale"])):
        record_safety(services.sessions, SafetyState(node="roof1", state=state, reasons=reasons,
                                                     sent_at=now - timedelta(minutes=minutes)))
    record_roof_state(services.sessions, RoofState(node="roof1", state="closed", activity="blocked",
                                                   alarm="mount not parked", alarm_level="critical",
                                                   mount_parked={"INDI Telescope Simulator": False}))


def test_page_shows_timeline_roof_and_changes_and_guests_get_no_buttons(services):
    seed(services)
    client = make_app(services).test_client()
    login(client, "guest")
    html = client.get("/observatory?hours=6").data.decode()
    section = re.search(r'<section class="observatory" data-observatory="roof1">.*?</section>', html, re.S).group(0)
    assert "data-verdict>unknown<" in section and "kp: stale" in section
    states = re.findall(r'data-state="([^"]+)"', section)
    # Verdicts every few minutes are expected: silence in between is shown as such.
    assert states == ["no data", "safe", "no data", "unsafe", "no data", "unknown", "no data"]
    assert "closed · blocked" in section and "critical: mount not parked" in section
    assert "rain: 1" in section and 'name="action"' not in section
    assert client.post("/observatory/roof1/roof", data={"action": "open"}).status_code == 403
    assert client.get("/observatory?hours=0").status_code == 400
    assert client.get("/observatory?hours=x").status_code == 400


def test_a_command_is_published_recorded_and_its_answer_shown(services):
    got, seen = [], threading.Event()
    services.bus.subscribe([names.roof_command_key("roof1")], lambda key, message: (got.append(message), seen.set()))
    client = make_app(services).test_client()
    login(client)
    response = client.post("/observatory/roof1/roof", data={"action": "open"}, follow_redirects=True)
    assert b"open sent to roof1" in response.data
    assert seen.wait(5)
    command = got[0]
    assert isinstance(command, RoofCommand) and (command.node, command.action, command.user) == ("roof1", "open", "admin")
    with services.sessions() as session:
        row = session.get(RoofCommandRecord, command.command_id)
        assert (row.action, row.user_name, row.accepted) == ("open", "admin", None)
    assert b"waiting" in client.get("/observatory").data
    record_roof_result(services.sessions, RoofCommandResult(node="roof1", command_id=command.command_id, action="open",
                                                            accepted=False, reason="sky is unsafe"))
    html = client.get("/observatory").data.decode()
    assert re.search(rf'data-command="{command.command_id}">.*?refused</span> sky is unsafe', html, re.S)
    bad = client.post("/observatory/roof1/roof", data={"action": "explode"}, follow_redirects=True)
    assert b"unknown roof command" in bad.data and len(got) == 1
    assert client.post("/observatory/Bad Name/roof", data={"action": "open"}).status_code == 404


def test_a_broker_that_is_down_is_said_and_nothing_recorded(services):
    class DeadBus:
        def publish(self, key, message):
            raise ConnectionError("broker unreachable")

        def close(self):
            pass

    services._bus = DeadBus()
    client = make_app(services).test_client()
    login(client)
    response = client.post("/observatory/roof1/roof", data={"action": "close"}, follow_redirects=True)
    assert b"could not be sent: broker unreachable" in response.data
    with services.sessions() as session:
        assert session.query(RoofCommandRecord).count() == 0


def test_safety_api(services):
    seed(services)
    client = make_app(services).test_client()
    login(client, "guest")
    data = client.get("/api/v1/safety?node=roof1&hours=6").get_json()
    (node,) = data["nodes"]
    assert [r["state"] for r in node["records"]] == ["safe", "unsafe", "unknown"]
    assert [s["state"] for s in node["stretches"]][-2:] == ["unknown", "no data"]
    with services.sessions() as session:
        assert session.query(SafetyRecord).count() == 3
