"""Tonight's timeline: what ran (frames per target), unsafe periods, planned blocks that did not run and why,
and the master's own re-plan when clouds move over the next target."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dramatiq
from sqlalchemy import select

from common import names
from common.contracts import ScheduleJob, parse_message
from master.auto_replan import AUTO, consider
from master.missed_blocks import blocks_as_sent, missed_blocks
from master.models import CloudMapRecord, ImagingPlan, SafetyRecord, SentSchedule, Target, TelescopeNode
from master.night_record import RanFrame, frames_ran, unsafe_stretches
from master.safety_timeline import Stretch
from master.tonight import plan_tonight
from master.web.timeline import WIDTH, build_timeline
from tests.unit.test_web_support import add_frame
from tests.unit import test_web_tonight

UTC = timezone.utc
NIGHT = test_web_tonight.NIGHT
setup = test_web_tonight.setup  # the same site, node and plans as the Tonight page's tests


def _block(name, start, hours):
    return SimpleNamespace(name=name, start=start, end=start + timedelta(hours=hours))


def test_the_ran_lane_takes_the_planned_colours_and_marks_rejected_frames_and_unsafe_periods(services, setup):
    with services.sessions() as session:
        tonight = plan_tonight(session, session.get(TelescopeNode, setup), NIGHT)
    m31 = next(b for b in tonight.plan.blocks if b.name == "M 31")
    frames = [RanFrame("M 31", m31.start, 300, True), RanFrame("M 31", m31.start + timedelta(minutes=6), 300, False),
              RanFrame("NGC 7000", m31.start, 60, True),  # not planned: the grey class
              RanFrame("M 31", m31.start - timedelta(days=1), 300, True)]  # off the chart: not drawn
    unsafe = [Stretch("unsafe", m31.start + timedelta(hours=1), m31.start + timedelta(hours=2), ("rain",)),
              Stretch("safe", m31.start + timedelta(hours=2), m31.start + timedelta(hours=3))]
    line = build_timeline(tonight, ZoneInfo("Europe/Paris"), frames, unsafe)
    block_colour = {name: colour for _, _, name, _, colour in line.blocks}
    assert [(name, verdict) for _, _, name, verdict, _ in line.ran] == \
        [("M 31", "accepted"), ("M 31", "rejected"), ("NGC 7000", "accepted")]
    assert line.ran[0][4] == line.ran[1][4] == block_colour["M 31"] and line.ran[2][4] == 6
    block_x = next(x for x, _, name, _, _ in line.blocks if name == "M 31")
    assert line.ran[0][0] == block_x and line.ran[1][0] > line.ran[0][0]
    assert all(0 <= x and x + w <= WIDTH + 1 for x, w, *_ in line.ran)
    assert len(line.unsafe) == 1 and line.unsafe[0][2] == "rain"
    assert 0 < line.unsafe[0][0] < WIDTH and line.unsafe[0][1] > 0


def test_blocks_that_did_not_run_say_why():
    t0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    blocks = [_block("A", t0, 1), _block("B", t0 + timedelta(hours=1), 1), _block("C", t0 + timedelta(hours=2), 1),
              _block("D", t0 + timedelta(hours=3), 1), _block("E", t0 + timedelta(hours=9), 1)]
    frames = [RanFrame("A", t0 + timedelta(minutes=5), 300, True)]
    unsafe = [Stretch("unsafe", t0 + timedelta(hours=1, minutes=10), t0 + timedelta(hours=1, minutes=40), ("rain",))]
    now = t0 + timedelta(hours=5)
    got = missed_blocks(blocks, frames, now, unsafe=unsafe,
                        replanned=[(t0 + timedelta(hours=2, minutes=5), "clouds over C (roof1/allsky at 20:04 UTC)")])
    assert list(got) == ["B 19:00–20:00", "C 20:00–21:00", "D 21:00–22:00"]  # A ran, E is to come
    assert got["B 19:00–20:00"] == "unsafe period 19:10–19:40 (rain)"
    assert "clouds over C" in got["C 20:00–21:00"]
    assert missed_blocks(blocks[3:4], [], now, job_state="failed", job_reason="mount stalled") == \
        {"D 21:00–22:00": "the job failed: mount stalled"}
    assert missed_blocks(blocks[3:4], [], now, job_state="interrupted") == \
        {"D 21:00–22:00": "interrupted: replaced by a re-plan"}
    assert missed_blocks(blocks[3:4], [], now) == {"D 21:00–22:00": "no frames ingested (reason unknown)"}


def test_the_record_gives_frames_by_target_and_unsafe_stretches(services, setup):
    start = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    add_frame(services, object_name="M 31", target_name="M31", date_obs=start + timedelta(minutes=10), accepted=False)
    add_frame(services, object_name="M 31", target_name="M31", date_obs=start - timedelta(days=3))
    add_frame(services, node_name="other", date_obs=start + timedelta(minutes=20))
    with services.sessions() as session:
        session.add_all([SafetyRecord(node_name="roof1", state="safe", reasons=[], at=start - timedelta(minutes=5)),
                         SafetyRecord(node_name="roof1", state="unsafe", reasons=["rain"], at=start + timedelta(minutes=30)),
                         SafetyRecord(node_name="roof1", state="safe", reasons=[], at=start + timedelta(minutes=35))])
        session.commit()
        ran = frames_ran(session, "scope1", start, start + timedelta(hours=12))
        unsafe = unsafe_stretches(session, start, start + timedelta(hours=1))
    assert [(f.target, f.accepted) for f in ran] == [("M 31", False)]
    assert [(s.start, s.end, s.reasons) for s in unsafe] == \
        [(start + timedelta(minutes=30), start + timedelta(minutes=35), ("rain",))]


def _queued(services):
    return [parse_message(dramatiq.Message.decode(m).args[0], ScheduleJob)
            for m in services.job_broker.queues[names.schedule_queue("scope1")].queue]


def test_the_page_shows_the_ran_lane_and_why_a_block_did_not_run(client, services, setup, monkeypatch):
    from master.web import tonight as web_tonight

    client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()})
    with services.sessions() as session:
        tonight = plan_tonight(session, session.get(TelescopeNode, setup), NIGHT)
    m31 = next(b for b in tonight.plan.blocks if b.name == "M 31")
    add_frame(services, object_name="M 31", target_name="M31", date_obs=m31.start + timedelta(minutes=1))
    with services.sessions() as session:
        # Every five minutes, as an observatory node republishes: unsafe from the end of M 31 on.
        session.add_all(SafetyRecord(node_name="roof1", state="unsafe", reasons=["clouds"],
                                     at=m31.end + timedelta(minutes=5 * i)) for i in range(12 * 8))
        session.commit()
    monkeypatch.setattr(web_tonight, "utc_now", lambda: m31.end + timedelta(days=1))
    page = client.get(f"/tonight?node={setup}&date={NIGHT.isoformat()}").get_data(as_text=True)
    assert 'data-ran="M 31"' in page and 'class="unsafe"' in page
    assert 'id="missed"' in page and "unsafe period" in page


def until_23h_local(session):
    """M 31's plan only until 23:00 in Paris (22:00 UTC): clouds over it at 21:00 leave it no time."""
    plan = session.scalars(select(ImagingPlan).join(Target).where(Target.name == "M 31")).one()
    plan.night_from, plan.night_until = time(18, 0), time(23, 0)
    session.commit()


WEST_CLOUDED = [{"alt_min": 20, "alt_max": 90, "az_min": az, "az_max": az + 90,
                 "cloud_fraction": 1.0 if az >= 180 else 0.0} for az in (0, 90, 180, 270)]


def test_a_cloud_map_over_the_current_target_replans_once_per_interval(services, setup):
    now = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # M 31 at 76° in the south-west, M 42 rising in the east
    with services.sessions() as session:
        until_23h_local(session)
        binding = session.get(TelescopeNode, setup)
        first = plan_tonight(session, binding, NIGHT).job("first")
        assert [t.name for t in first.targets] == ["M 31", "M 42"]
        session.add(SentSchedule(job_id="first", node_name="scope1", night=NIGHT, site_name="Backyard", sent_by="admin",
                                 sent_at=now - timedelta(hours=3), job=first.to_wire()))
        session.add(CloudMapRecord(node_name="roof1", source="allsky", taken_at=now, label="cloudy", cloud_fraction=0.5,
                                   regions=WEST_CLOUDED))
        session.commit()
        services.job_broker.declare_queue(names.schedule_queue("scope1"))
        decision = consider(session, services.job_broker, binding, now, 20.0)
        again = consider(session, services.job_broker, binding, now + timedelta(minutes=5), 20.0)
        rows = list(session.query(SentSchedule).order_by(SentSchedule.sent_at))
    assert decision.replan and "clouds over M 31" in decision.why, decision
    assert not again.replan and "20 min" in again.why
    queued = _queued(services)
    assert len(queued) == 1 and queued[0].replaces == "first" and [t.name for t in queued[0].targets] == ["M 42"]
    assert [r.sent_by for r in rows] == ["admin", AUTO] and "clouds over M 31" in rows[1].replan_reason


def test_no_replan_when_the_new_plan_is_what_the_node_still_has_to_do(services, setup):
    now = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    with services.sessions() as session:
        until_23h_local(session)
        binding = session.get(TelescopeNode, setup)
        first = plan_tonight(session, binding, NIGHT).job("first")
        remaining = first.model_validate({**first.model_dump(), "targets": first.targets[1:]})  # only M 42 left
        session.add(SentSchedule(job_id="first", node_name="scope1", night=NIGHT, site_name="Backyard", sent_by="admin",
                                 sent_at=now - timedelta(hours=3), job=remaining.to_wire()))
        session.add(CloudMapRecord(node_name="roof1", source="allsky", taken_at=now, label="cloudy", cloud_fraction=0.5,
                                   regions=[{**r, "cloud_fraction": 1.0} for r in WEST_CLOUDED]))
        session.commit()
        services.job_broker.declare_queue(names.schedule_queue("scope1"))
        decision = consider(session, services.job_broker, binding, now, 20.0)
    assert not decision.replan and _queued(services) == []


def test_safe_again_after_unsafe_replans_the_rest_of_the_night(services, setup):
    from master.auto_replan import safety_before

    now = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    with services.sessions() as session:
        until_23h_local(session)
        binding = session.get(TelescopeNode, setup)
        first = plan_tonight(session, binding, NIGHT).job("first")
        session.add(SentSchedule(job_id="first", node_name="scope1", night=NIGHT, site_name="Backyard", sent_by="admin",
                                 sent_at=now - timedelta(hours=3), job=first.to_wire()))
        session.add(SafetyRecord(node_name="roof1", state="unsafe", reasons=["rain"], at=now - timedelta(hours=1)))
        session.commit()
    assert safety_before(services.sessions, "roof1") == "unsafe" and safety_before(services.sessions, "x") is None
    with services.sessions() as session:
        services.job_broker.declare_queue(names.schedule_queue("scope1"))
        binding = session.get(TelescopeNode, setup)
        decision = consider(session, services.job_broker, binding, now, 20.0, safety="safe", safety_before="unsafe")
    assert decision.replan and "safe again" in decision.why
    (job,) = _queued(services)
    assert job.replaces == "first" and job.targets[0].name == "M 31"
    assert sum(r.count for r in job.targets[0].rows) < sum(r.count for r in first.targets[0].rows)  # an hour left


def test_blocks_that_did_not_run_are_judged_against_the_plan_as_sent(client, services, setup, monkeypatch):
    # frames accepted later change what the planner would say now; the timeline keeps what was sent
    from master.web import tonight as web_tonight

    client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()})
    with services.sessions() as session:
        [row] = session.query(SentSchedule).all()
        sent_blocks = blocks_as_sent([row])
        planned = plan_tonight(session, session.get(TelescopeNode, setup), NIGHT).plan.blocks
    assert [(b.name, b.start, b.end) for b in sent_blocks] == [(b.name, b.start, b.end) for b in planned]
    with services.sessions() as session:  # the plans are finished by other frames: nothing is planned now
        for plan in session.scalars(select(ImagingPlan)):
            plan.active = False
        session.commit()
    monkeypatch.setattr(web_tonight, "utc_now", lambda: planned[-1].end + timedelta(days=1))
    page = client.get(f"/tonight?node={setup}&date={NIGHT.isoformat()}").get_data(as_text=True)
    assert 'id="missed"' in page and all(f"{b.name} " in page for b in planned)


def test_a_replaced_schedule_keeps_only_its_blocks_before_the_replacement():
    t0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)

    def sent(at, *blocks):
        return SentSchedule(sent_at=at, blocks=[{"name": n, "start": (t0 + timedelta(hours=a)).isoformat(),
                                                 "end": (t0 + timedelta(hours=b)).isoformat()} for n, a, b in blocks])

    first = sent(t0, ("M 31", 0, 2), ("M 42", 2, 5))
    second = sent(t0 + timedelta(hours=3), ("M 1", 3, 6))
    got = [(b.name, b.start - t0, b.end - t0) for b in blocks_as_sent([first, second])]
    assert got == [("M 31", timedelta(0), timedelta(hours=2)), ("M 42", timedelta(hours=2), timedelta(hours=3)),
                   ("M 1", timedelta(hours=3), timedelta(hours=6))]
    assert blocks_as_sent([SentSchedule(sent_at=t0, blocks=None)]) == []  # rows from before block times
