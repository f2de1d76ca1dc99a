"""The plan form's moon illumination, time-of-night window, dither, focus and calibration settings,
and a row's binning, gain and offset: saved, shown again, in the API, and in Tonight's request."""
from __future__ import annotations

from datetime import date, time

from master.models import ImagingPlan, Site, TelescopeNode
from master.tonight import open_requests
from tests.unit.test_web_plans import make_target

FIELDS = {"priority": "3", "min_altitude_deg": "30", "min_moon_separation_deg": "0", "twilight": "astronomical",
          "moon_illumination_pct": "60", "night_from": "22:30", "night_until": "03:00", "dither_every": "4",
          "focus_at_start": "y", "focus_every_min": "45", "focus_temp_delta": "1.5", "calib_darks": "20",
          "calib_flats": "15", "flat_exposure_s": "2", "active": "y"}


def test_settings_are_saved_shown_and_planned(client, services):
    target_id = make_target(services)
    response = client.post("/plans/add", data={"target_id": target_id, **FIELDS})
    plan_url = response.headers["Location"]
    client.post(f"{plan_url}/rows", data={"filter_name": "L", "exposure_s": "300", "count": "10", "binning": "2",
                                          "gain": "139", "offset": "21"})
    with services.sessions() as session:
        plan = session.query(ImagingPlan).one()
        assert (plan.max_moon_illumination, plan.night_from, plan.night_until, plan.dither_every) == \
            (0.6, time(22, 30), time(3, 0), 4)
        assert (plan.focus_at_start, plan.focus_every_min, plan.focus_temp_delta) == (True, 45, 1.5)
        assert (plan.calib_darks, plan.calib_flats, plan.flat_exposure_s) == (20, 15, 2)
        [row] = plan.rows
        assert (row.binning, row.gain, row.offset) == (2, 139, 21)
    page = client.get(plan_url).get_data(as_text=True)
    assert 'value="60.0"' in page and 'value="22:30"' in page and "2×2" in page and ">139.0<" in page
    api = client.get(f"/api/v1{plan_url}").get_json()
    assert api["constraints"]["night_until"] == "03:00" and api["imaging"]["dither_every"] == 4
    assert api["rows"][0]["binning"] == 2

    with services.sessions() as session:
        site = Site(name="Backyard", latitude_deg=48.5, longitude_deg=2.25, timezone="Europe/Paris")
        binding = TelescopeNode(node_name="scope1", site=site)
        session.add(binding)
        session.commit()
        [request], _ = open_requests(session, binding, date(2026, 12, 1))
    start, end = request.constraints.window
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T21:30:00+00:00", "2026-12-02T02:00:00+00:00")
    assert request.constraints.max_moon_illumination == 0.6
    assert request.rows[0].binning == 2 and request.imaging.dither_every == 4 and request.imaging.darks == 20


def test_half_a_window_is_a_form_error(client, services):
    target_id = make_target(services)
    page = client.post("/plans/add", data={"target_id": target_id, **FIELDS, "night_until": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "give both ends of the time-of-night window" in page
    with services.sessions() as session:
        assert session.query(ImagingPlan).count() == 0
