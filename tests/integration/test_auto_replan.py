"""The master re-plans by itself through the real RabbitMQ: a cloud map over the first target of the
schedule sent tonight makes the worker's event handler send a replacement that avoids it; the same
map again within the interval sends nothing."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pika
import pytest

from common import names
from common.contracts import CloudMap, ScheduleJob, parse_message
from common.jobs import send_schedule
from master import auto_replan
from master.models import CloudMapRecord, SentSchedule, TelescopeNode
from master.tonight import plan_tonight
from master.worker import subscribe_events
from tests.unit import test_web_tonight
from tests.unit.test_night_timeline import WEST_CLOUDED, until_23h_local
from tests.unit.test_web_support import add_user, make_services
from .helpers import wait_for

NIGHT = test_web_tonight.NIGHT
setup = test_web_tonight.setup  # Backyard near Paris, scope1, M 31 and M 42 open
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=timezone.utc)


@pytest.fixture
def services(rabbitmq, tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch, broker={"kind": "rabbitmq", "url": rabbitmq.url},
                             planner={"replan_every_min": 20})
    add_user(services)
    monkeypatch.setattr(auto_replan, "utc_now", lambda: NOW)  # the worker's clock: 22:00 in Paris
    yield services
    services.close()


def _schedules(channel) -> list[ScheduleJob]:
    out = []
    while True:
        method, _, body = channel.basic_get(names.schedule_queue("scope1"), auto_ack=True)
        if method is None:
            return out
        out.append(parse_message(json.loads(body)["args"][0], ScheduleJob))


def _rows(services, model):
    with services.sessions() as session:
        return list(session.query(model))


def test_a_cloud_map_over_the_first_target_sends_a_replacement_once(rabbitmq, services, setup):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()
    try:
        with services.sessions() as session:
            until_23h_local(session)
            first = plan_tonight(session, session.get(TelescopeNode, setup), NIGHT).job("tonight-first")
            send_schedule(services.job_broker, first)
            channel.queue_purge(names.schedule_queue("scope1"))  # only this test's schedules from here on
            send_schedule(services.job_broker, first)
            session.add(SentSchedule(job_id=first.job_id, node_name="scope1", night=NIGHT, site_name="Backyard",
                                     sent_by="admin", sent_at=NOW - timedelta(hours=3), job=first.to_wire()))
            session.commit()
        assert [t.name for t in first.targets] == ["M 31", "M 42"]
        subscribe_events(services)
        clouds = CloudMap(node="roof1", source="allsky", taken_at=NOW, label="cloudy", cloud_fraction=0.5,
                          regions=WEST_CLOUDED)
        services.bus.publish(names.clouds_key("roof1"), clouds)
        wait_for(lambda: len(_rows(services, SentSchedule)) == 2, 30, "an automatic re-plan recorded")
        sent = _schedules(channel)
        assert [s.job_id for s in sent][0] == "tonight-first" and len(sent) == 2
        replacement = sent[1]
        assert replacement.replaces == "tonight-first" and [t.name for t in replacement.targets] == ["M 42"]
        row = next(r for r in _rows(services, SentSchedule) if r.job_id == replacement.job_id)
        assert row.sent_by == auto_replan.AUTO and "clouds over M 31" in row.replan_reason

        # The same map again within the 20 minutes (the worker's clock stands still): recorded, nothing sent.
        services.bus.publish(names.clouds_key("roof1"), clouds.model_copy(update={"taken_at": NOW}))
        wait_for(lambda: len(_rows(services, CloudMapRecord)) == 2, 30, "the second map recorded")
        time.sleep(2)  # the handler re-plans right after recording: give it the time it took the first time
        assert len(_rows(services, SentSchedule)) == 2 and _schedules(channel) == []
    finally:
        connection.close()
