"""Tonight: the open plans' remaining frames planned over the node's site, shown, and sent as a job."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dramatiq
import pytest

from common import names
from common.contracts import ScheduleJob, parse_message
from master.models import Filter, ImagingPlan, PlanRow, SentSchedule, Site, Target, TelescopeNode
from master.tonight import current_night, open_requests, plan_tonight
from master.web.timeline import WIDTH, build_timeline
from tests.unit.test_web_support import add_frame, add_user, login, make_app

NIGHT = date(2026, 12, 1)  # M 31 high in the evening, M 42 after midnight, the moon nearly new


@pytest.fixture
def setup(services):
    """Backyard near Paris, node scope1 with L and Ha filters, four plans."""
    with services.sessions() as session:
        site = Site(name="Backyard", latitude_deg=48.5, longitude_deg=2.25, elevation_m=120,
                    timezone="Europe/Paris", horizon=[[0, 10], [180, 15]])
        filters = [Filter(name="L"), Filter(name="Ha"), Filter(name="OIII")]
        binding = TelescopeNode(node_name="scope1", site=site, filters=filters[:2])
        m31 = Target(name="M 31", ra_deg=10.68, dec_deg=41.27)
        m42 = Target(name="M 42", ra_deg=83.82, dec_deg=-5.39)
        m33 = Target(name="M 33", ra_deg=23.46, dec_deg=30.66)
        m1 = Target(name="M 1", ra_deg=83.63, dec_deg=22.01)
        session.add_all([binding, *filters[2:],
                         ImagingPlan(target=m31, priority=2, rows=[PlanRow(filter_name="L", exposure_s=300, count=12)]),
                         ImagingPlan(target=m42, priority=3, rows=[PlanRow(filter_name="Ha", exposure_s=600, count=6),
                                                                   PlanRow(filter_name="OIII", exposure_s=600, count=6)]),
                         ImagingPlan(target=m33, start_date=date(2027, 1, 1),
                                     rows=[PlanRow(filter_name="L", exposure_s=300, count=4)]),
                         ImagingPlan(target=m1, rows=[PlanRow(filter_name="OIII", exposure_s=300, count=4)])])
        session.commit()
        return binding.id


def test_open_requests_hold_what_accepted_frames_have_not_covered(services, setup):
    for accepted in (True, True, True, False):
        add_frame(services, target_name="M 31", filter_name="L", exposure_s=300.0, accepted=accepted)
    with services.sessions() as session:
        binding = session.get(TelescopeNode, setup)
        requests, skipped = open_requests(session, binding, NIGHT)
    by_name = {r.name: r for r in requests}
    assert [(row.filter_name, row.count) for row in by_name["M 31"].rows] == [("L", 9)]
    assert [(row.filter_name, row.count) for row in by_name["M 42"].rows] == [("Ha", 6)]  # the node has no OIII
    assert by_name["M 31"].priority == 2
    assert skipped == {"M 33 (plan 3)": "outside its date window", "M 1 (plan 4)": "the node has no OIII filter"}


def test_a_complete_or_paused_plan_is_left_out(services, setup):
    with services.sessions() as session:
        session.get(ImagingPlan, 2).active = False
        session.commit()
    for _ in range(12):
        add_frame(services, target_name="M 31", filter_name="L", exposure_s=300.0)
    with services.sessions() as session:
        requests, skipped = open_requests(session, session.get(TelescopeNode, setup), NIGHT)
    assert requests == [] and skipped["M 31 (plan 1)"].startswith("complete")


def test_the_tonight_page_shows_blocks_twilight_and_what_is_left_out(client, setup):
    page = client.get(f"/tonight?node={setup}&date={NIGHT.isoformat()}").get_data(as_text=True)
    assert 'data-block="M 31"' in page and 'data-block="M 42"' in page
    assert 'class="band night"' in page and 'class="band civil"' in page and 'class="moon"' in page
    assert "outside its date window" in page and "the node has no OIII filter" in page
    assert "Astronomical night 18:52–06:29" in page and "(Europe/Paris)" in page
    assert "L 12×300.0s" in page and 'id="send-form"' in page


def test_timeline_geometry_stays_inside_the_chart(services, setup):
    with services.sessions() as session:
        tonight = plan_tonight(session, session.get(TelescopeNode, setup), NIGHT)
        line = build_timeline(tonight, ZoneInfo("Europe/Paris"))
    assert {level for _, _, level in line.bands} == {"day", "civil", "nautical", "astronomical", "night"}
    assert sum(w for _, w, _ in line.bands) == pytest.approx(WIDTH, abs=1)
    assert [name for _, _, name, _, _ in line.blocks] == [b.name for b in tonight.plan.blocks]
    assert all(0 <= x and x + w <= WIDTH + 0.1 for x, w, _, _, _ in line.blocks)
    colour_of = {name: colour for name, _, colour in line.curves}
    assert len(set(colour_of.values())) == len(colour_of) == 2  # M 31 and M 42, each its own colour
    assert all(colour == colour_of[name] for _, _, name, _, colour in line.blocks)
    hours = [label for _, label in line.ticks]
    assert "00h" in hours and hours == sorted(hours, key=lambda h: (int(h[:2]) < 12, h))


def test_send_puts_a_schedule_job_on_the_node_queue_and_records_it(client, services, setup):
    response = client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "sent to scope1: 2 targets" in page
    waiting = list(services.job_broker.queues[names.schedule_queue("scope1")].queue)
    assert len(waiting) == 1
    message = dramatiq.Message.decode(waiting[0])
    assert message.actor_name == names.RUN_SCHEDULE_ACTOR
    job = parse_message(message.args[0], ScheduleJob)
    assert job.node == "scope1" and {t.name for t in job.targets} == {"M 31", "M 42"}
    assert sum(r.count for t in job.targets if t.name == "M 31" for r in t.rows) == 12
    with services.sessions() as session:
        record = session.query(SentSchedule).one()
        assert (record.job_id, record.node_name, record.night, record.sent_by) == (job.job_id, "scope1", NIGHT, "admin")
        assert record.job["targets"] == message.args[0]["targets"]
    assert f'data-job="{job.job_id}"' in page


def test_nothing_is_sent_when_nothing_is_planned(client, services, setup):
    with services.sessions() as session:
        for plan in session.query(ImagingPlan):
            plan.active = False
        session.commit()
    response = client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()},
                           follow_redirects=True)
    assert "Nothing sent: nothing is planned" in response.get_data(as_text=True)
    assert names.schedule_queue("scope1") not in services.job_broker.queues
    with services.sessions() as session:
        assert session.query(SentSchedule).count() == 0


class DownBroker:
    def declare_queue(self, name):
        pass

    def enqueue(self, message):
        raise ConnectionError("broker unreachable")

    def close(self):
        pass


def test_a_broker_failure_is_a_message_and_nothing_is_recorded(client, services, setup, monkeypatch):
    monkeypatch.setattr(services, "_broker", DownBroker())
    response = client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Could not send the schedule to scope1: broker unreachable" in response.get_data(as_text=True)
    with services.sessions() as session:
        assert session.query(SentSchedule).count() == 0


def test_bad_requests_are_messages(client, setup):
    page = client.get("/tonight?date=soon").get_data(as_text=True)
    assert "is not a date like 2026-12-01; showing tonight" in page
    response = client.post("/tonight/send", data={"node_id": "999", "night": NIGHT.isoformat()}, follow_redirects=True)
    assert "no longer bound" in response.get_data(as_text=True)
    response = client.post("/tonight/send", data={"node_id": setup, "night": "later"}, follow_redirects=True)
    assert response.status_code == 200 and "Not a valid date value" in response.get_data(as_text=True)


def test_without_a_bound_node_the_page_says_what_to_do(client):
    assert "No telescope node is bound" in client.get("/tonight").get_data(as_text=True)


def test_a_guest_sees_tonight_but_cannot_send(services, setup):
    add_user(services, "visitor", role="guest")
    guest = make_app(services).test_client()
    login(guest, "visitor")
    page = guest.get(f"/tonight?date={NIGHT.isoformat()}").get_data(as_text=True)
    assert 'data-block="M 31"' in page and 'id="send-form"' not in page
    assert guest.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()}).status_code == 403


def test_the_current_night_starts_at_local_noon(services, setup):
    with services.sessions() as session:
        binding = session.get(TelescopeNode, setup)
        assert current_night(binding, datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)) == date(2026, 12, 1)
        assert current_night(binding, datetime(2026, 12, 2, 11, 30, tzinfo=timezone.utc)) == date(2026, 12, 2)


def test_tonights_schedule_downloads_as_ekos_files_kstars_can_load(client, services, setup):
    import io
    import zipfile

    from common.ekos import read_bytes

    query = (f"/tonight/ekos.zip?node={setup}&date={NIGHT.isoformat()}&files_dir=/home/astro/sched"
             "&capture_dir=/home/astro/Pictures&profile=Roof")
    response = client.get(query)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = sorted(archive.namelist())
    assert "schedule.esl" in names and any(n.endswith(".esq") for n in names)
    scheduler = read_bytes(archive.read("schedule.esl"), "schedule.esl")
    assert scheduler.profile == "Roof" and scheduler.jobs
    for job in scheduler.jobs:  # each sequence named where the archive will be unpacked
        assert job.sequence.startswith("/home/astro/sched/") and job.sequence.rsplit("/", 1)[1] in names
        queue = read_bytes(archive.read(job.sequence.rsplit("/", 1)[1]), "q.esq")
        assert {s.fits_directory for s in queue.jobs} == {"/home/astro/Pictures"}
        assert all(s.target_name == job.name for s in queue.jobs)
    assert client.get(query.replace("files_dir=/home", "files_dir=home")).status_code == 400
    assert client.get(query.replace(NIGHT.isoformat(), "tomorrow")).status_code == 400
    assert client.get(query.replace(f"node={setup}", "node=999")).status_code == 200  # falls back to the first node


def west_clouded(taken_at):
    """A cloud map with the western half of the sky (azimuth 180-360) overcast, the east clear."""
    regions = [{"alt_min": lo, "alt_max": hi, "az_min": az, "az_max": az + 45.0,
                "cloud_fraction": 1.0 if az >= 180 else 0.0}
               for lo, hi in ((20.0, 45.0), (45.0, 70.0)) for az in range(0, 360, 45)]
    return regions + [{"alt_min": 70.0, "alt_max": 90.0, "az_min": 0.0, "az_max": 360.0, "cloud_fraction": None}]


def test_a_replan_starts_now_and_keeps_targets_out_of_the_clouded_sky(services, setup):
    from master.planning.conditions import CloudCover, SkyConditions

    now = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
    clouds = CloudCover.from_map(now, west_clouded(now), "roof1/allsky")
    with services.sessions() as session:
        binding = session.get(TelescopeNode, setup)
        free = plan_tonight(session, binding, NIGHT)
        later = plan_tonight(session, binding, NIGHT, SkyConditions(start=now))
        clouded = plan_tonight(session, binding, NIGHT, SkyConditions(start=now, clouds=clouds, cloud_valid_min=120))
    assert free.plan.blocks[0].start < now  # the whole night's plan starts at dusk
    assert later.plan.blocks and all(b.start >= now for b in later.plan.blocks)
    assert clouded.plan.blocks and all(b.start >= now for b in clouded.plan.blocks)
    # Every fine sample of every block inside the map's two hours: the target is in the clear east.
    sky = clouded.sky
    times = [t.timestamp() for t in sky.fine_times]
    for block in clouded.plan.blocks:
        request = next(r for r in clouded.requests if r.name == block.name)
        track = sky.tracks([request.ra_deg], [request.dec_deg], full_day=True)
        inside = [i for i, t in enumerate(times) if block.start.timestamp() <= t <= block.end.timestamp()
                  and t <= (now.timestamp() + 7200) and track.alt[0, i] >= 20]
        assert all(clouds.clouded(track.alt[0, i], track.az[0, i], 0.5) == 0 for i in inside), block.name
    assert (later.plan.blocks[0].name, later.plan.blocks[0].start) == ("M 31", now)  # low in the west: at once
    m31 = [b for b in clouded.plan.blocks if b.name == "M 31"]
    assert m31 and m31[0].start >= now + timedelta(hours=2)  # only once the map no longer holds


def test_replan_from_the_portal_replaces_the_schedule_sent_last(client, services, setup, monkeypatch):
    from master import tonight as tonight_module
    from master.models import CloudMapRecord

    now = datetime(2026, 12, 1, 21, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(tonight_module, "utc_now", lambda: now)
    first = client.post("/tonight/send", data={"node_id": setup, "night": NIGHT.isoformat()}, follow_redirects=True)
    assert "sent to scope1" in first.get_data(as_text=True)
    with services.sessions() as session:
        session.add(CloudMapRecord(node_name="roof1", source="allsky", taken_at=now, label="partly",
                                   cloud_fraction=0.4, regions=west_clouded(now)))
        session.commit()
    page = client.post("/tonight/replan", data={"node_id": setup, "night": NIGHT.isoformat()},
                       follow_redirects=True).get_data(as_text=True)
    assert "Re-planned from 21:30 UTC (cloud map of roof1/allsky at 21:30 UTC: 8 of 17 regions avoided)" in page
    waiting = [parse_message(dramatiq.Message.decode(m).args[0], ScheduleJob)
               for m in services.job_broker.queues[names.schedule_queue("scope1")].queue]
    assert len(waiting) == 2 and waiting[1].replaces == waiting[0].job_id and waiting[1].job_id.startswith("replan-")
    with services.sessions() as session:
        assert [r.job_id for r in session.query(SentSchedule).order_by(SentSchedule.sent_at)] == \
            [w.job_id for w in waiting]
    other = client.post("/tonight/replan", data={"node_id": setup, "night": "2026-12-05"}, follow_redirects=True)
    assert "Only tonight can be re-planned" in other.get_data(as_text=True)
