"""Imaging plans: rows of filter × exposure × count whose progress counts accepted frames only."""
from __future__ import annotations

from datetime import date

from master.models import ImagingPlan, PlanRow, Target
from tests.unit.test_web_support import add_frame, add_user, login, make_app


def make_target(services, name="M 31", **fields) -> int:
    with services.sessions() as session:
        target = Target(name=name, ra_deg=fields.get("ra_deg", 10.68), dec_deg=fields.get("dec_deg", 41.27))
        session.add(target)
        session.commit()
        return target.id


def make_plan(services, target_id, rows=(("L", 300.0, 10),), **fields) -> int:
    with services.sessions() as session:
        plan = ImagingPlan(target_id=target_id, rows=[PlanRow(filter_name=f, exposure_s=e, count=c) for f, e, c in rows],
                           **fields)
        session.add(plan)
        session.commit()
        return plan.id


def test_create_a_plan_and_add_exposures(client, services):
    target_id = make_target(services)
    response = client.post("/plans/add", data={"target_id": target_id, "priority": "2", "min_altitude_deg": "35",
                                               "max_airmass": "1.8", "min_moon_separation_deg": "40",
                                               "twilight": "nautical", "start_date": "2026-12-01", "active": "y"})
    assert response.status_code == 302
    plan_url = response.headers["Location"]
    client.post(f"{plan_url}/rows", data={"filter_name": "Ha", "exposure_s": "600", "count": "12"})
    client.post(f"{plan_url}/rows", data={"filter_name": "", "exposure_s": "60", "count": "5"})
    with services.sessions() as session:
        plan = session.query(ImagingPlan).one()
        assert (plan.priority, plan.min_altitude_deg, plan.max_airmass, plan.twilight, plan.start_date) == \
            (2, 35.0, 1.8, "nautical", date(2026, 12, 1))
        assert [(r.filter_name, r.exposure_s, r.count) for r in plan.rows] == [("Ha", 600.0, 12), (None, 60.0, 5)]
    page = client.get(plan_url).get_data(as_text=True)
    assert "Plan: " in page and "no filter" in page and '<option selected value="nautical">' in page


def test_progress_counts_only_accepted_lights_of_the_row_per_night(client, services):
    target_id = make_target(services)
    plan_id = make_plan(services, target_id, rows=(("L", 300.0, 3), ("Ha", 600.0, 4), ("L", 300.0, 5)))
    lights = dict(target_name="M 31", frame_type="light")
    for night, accepted in ((date(2026, 11, 1), True), (date(2026, 11, 1), True), (date(2026, 11, 2), True),
                            (date(2026, 11, 2), True), (date(2026, 11, 2), False)):
        add_frame(services, filter_name="L", exposure_s=300.0, night=night, accepted=accepted, **lights)
    add_frame(services, filter_name="l", exposure_s=300.00001, night=date(2026, 11, 3), **lights)  # same row
    add_frame(services, filter_name="Ha", exposure_s=600.0, night=date(2026, 11, 3), target_id=target_id,
              target_name="Andromeda")  # linked by id, recorded under another name
    add_frame(services, filter_name="Ha", exposure_s=300.0, night=date(2026, 11, 3), **lights)  # other exposure
    add_frame(services, filter_name="L", exposure_s=300.0, night=date(2026, 11, 3), target_name="M 33")
    add_frame(services, filter_name="L", exposure_s=300.0, frame_type="flat", target_name="M 31")

    items = client.get("/api/v1/plans").json["items"]
    rows = items[0]["rows"]
    # The first L row takes the oldest frames; the second L row gets the rest, never the same ones.
    assert [(r["accepted"], r["remaining"]) for r in rows] == [(3, 0), (1, 3), (2, 3)]
    assert rows[0]["by_night"] == {"2026-11-01": 2, "2026-11-02": 1}
    assert rows[2]["by_night"] == {"2026-11-02": 1, "2026-11-03": 1}
    assert rows[1]["by_night"] == {"2026-11-03": 1}
    assert (items[0]["accepted"], items[0]["total"], items[0]["complete"]) == (6, 12, False)
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "2026-11-01" in page and "2026-11-03" in page
    assert client.get(f"/api/v1/plans/{plan_id}").json["target"]["name"] == "M 31"


def test_a_plan_is_complete_when_every_row_has_its_accepted_frames(client, services):
    target_id = make_target(services)
    make_plan(services, target_id, rows=(("L", 300.0, 2),))
    for _ in range(3):
        add_frame(services, filter_name="L", exposure_s=300.0, target_name="M 31")
    item = client.get("/api/v1/plans").json["items"][0]
    assert item["complete"] is True and item["rows"][0]["remaining"] == 0 and item["rows"][0]["accepted"] == 2
    assert "complete" in client.get("/plans").get_data(as_text=True)


def test_bad_plan_input_is_a_form_error(client, services):
    target_id = make_target(services)
    page = client.post("/plans/add", data={"target_id": target_id, "priority": "11", "min_altitude_deg": "30",
                                           "min_moon_separation_deg": "0", "twilight": "astronomical",
                                           "start_date": "2026-12-05", "end_date": "2026-12-01"},
                       follow_redirects=True)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Priority (1 first … 10 last): Number must be between 1 and 10" in text
    assert "must not be before the first night" in text
    plan_id = make_plan(services, target_id)
    response = client.post(f"/plans/{plan_id}/rows", data={"filter_name": "L", "exposure_s": "0", "count": "x"},
                           follow_redirects=True)
    assert response.status_code == 200 and "Exposure (s): Number must be between" in response.get_data(as_text=True)
    with services.sessions() as session:
        assert session.query(ImagingPlan).count() == 1 and session.query(PlanRow).count() == 1


def test_rows_and_plans_are_removed_and_a_deleted_target_takes_its_plans(client, services):
    target_id = make_target(services)
    plan_id = make_plan(services, target_id, rows=(("L", 300.0, 2), ("R", 300.0, 2)))
    with services.sessions() as session:
        row_id = session.query(PlanRow).filter_by(filter_name="R").one().id
    client.post(f"/plans/{plan_id}/rows/{row_id}/delete")
    assert [r["filter_name"] for r in client.get(f"/api/v1/plans/{plan_id}").json["rows"]] == ["L"]
    client.post(f"/targets/{target_id}/delete")
    with services.sessions() as session:
        assert session.query(ImagingPlan).count() == 0 and session.query(PlanRow).count() == 0


def test_filter_names_are_escaped_and_guests_only_read(client, services):
    target_id = make_target(services)
    make_plan(services, target_id, rows=(("<b>bold</b>", 60.0, 1),))
    add_user(services, "visitor", role="guest")
    guest = make_app(services).test_client()
    login(guest, "visitor")
    page = guest.get("/plans").get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page and "plan-form" not in page
    assert guest.post("/plans/add", data={"target_id": target_id}).status_code == 403


def test_progress_counts_a_row_s_binning_gain_and_offset(client, services):
    target_id = make_target(services)
    with services.sessions() as session:
        session.add(ImagingPlan(target_id=target_id, rows=[
            PlanRow(filter_name="L", exposure_s=300.0, count=5, binning=2, gain=120),
            PlanRow(filter_name="L", exposure_s=300.0, count=5)]))  # 1×1, the camera's gain
        session.commit()
    lights = {"filter_name": "L", "exposure_s": 300.0, "target_name": "M 31"}
    add_frame(services, binning_x=2, binning_y=2, gain=120, offset=10, **lights)  # row 1
    add_frame(services, binning_x=2, binning_y=2, gain=None, **lights)  # gain not recorded: row 1
    add_frame(services, binning_x=1, binning_y=1, gain=120, **lights)  # binned 1×1: row 2
    add_frame(services, binning_x=2, binning_y=2, gain=0, **lights)  # 2×2 at another gain: no row
    rows = client.get("/api/v1/plans").json["items"][0]["rows"]
    assert [(r["binning"], r["gain"], r["accepted"]) for r in rows] == [(2, 120, 2), (1, None, 1)]
