"""Sites and equipment in the portal: add, edit, bind to a telescope node, refuse bad input."""
from __future__ import annotations

import pytest

from master.horizon import HorizonError, format_horizon, parse_horizon
from master.models import Filter, Site, TelescopeNode
from master.optics import image_scale_arcsec
from tests.unit.test_web_support import add_user, login, make_app

SITE = {"name": "Backyard", "latitude_deg": "48.5", "longitude_deg": "2.25", "elevation_m": "120",
        "timezone": "Europe/Paris", "horizon_text": "180 20; 0 15\n90:25"}


def flashes(response) -> str:
    return response.get_data(as_text=True)


def add(client, kind, **data):
    return client.post(f"/equipment/{kind}/add", data=data, follow_redirects=True)


def test_horizon_text_is_parsed_sorted_and_written_back():
    assert parse_horizon("180 20; 0 15\n90:25, 270/10") == [[0, 15], [90, 25], [180, 20], [270, 10]]
    assert parse_horizon("  ") == []
    assert format_horizon([[0.0, 15.0], [90.5, 25.0]]) == "0 15, 90.5 25"


@pytest.mark.parametrize("text, message", [
    ("10", "not an 'azimuth altitude' pair"), ("north 10", "not two numbers"),
    ("360 10", "azimuth 360"), ("10 95", "altitude 95"), ("10 5, 10 6", "given twice")])
def test_bad_horizon_text_says_what_is_wrong(text, message):
    with pytest.raises(HorizonError, match=message):
        parse_horizon(text)


def test_image_scale_of_a_short_refractor():
    assert image_scale_arcsec(3.76, 250) == pytest.approx(3.10, abs=0.01)
    assert image_scale_arcsec(None, 250) is None


def test_add_a_site_with_a_horizon_and_edit_it(client, services):
    page = flashes(add(client, "sites", **SITE))
    assert "Site Backyard added" in page and "0 15, 90 25, 180 20" in page
    with services.sessions() as session:
        site = session.query(Site).one()
        assert (site.latitude_deg, site.timezone, site.horizon) == (48.5, "Europe/Paris", [[0, 15], [90, 25], [180, 20]])
    edit_page = client.get(f"/equipment/sites/{site.id}").get_data(as_text=True)
    assert 'value="Europe/Paris"' in edit_page and "0 15, 90 25, 180 20" in edit_page
    response = client.post(f"/equipment/sites/{site.id}", data={**SITE, "latitude_deg": "0", "horizon_text": ""},
                           follow_redirects=True)
    assert "Site Backyard saved" in flashes(response)
    with services.sessions() as session:
        site = session.get(Site, site.id)
        assert site.latitude_deg == 0.0 and site.horizon is None  # 0 is a latitude, not a missing value


@pytest.mark.parametrize("field, value, message", [
    ("timezone", "Mars/Olympus", "is not a known time zone"),
    ("horizon_text", "0 15, 400 3", "azimuth 400"),
    ("latitude_deg", "91", "Number must be between -90"),
    ("longitude_deg", "", "is required"),
])
def test_a_bad_site_is_a_form_error_and_nothing_is_stored(client, services, field, value, message):
    response = add(client, "sites", **{**SITE, field: value})
    assert response.status_code == 200 and message in flashes(response)
    with services.sessions() as session:
        assert session.query(Site).count() == 0


def test_equipment_bound_to_a_telescope_node(client, services):
    add(client, "sites", **SITE)
    add(client, "telescopes", name="RedCat 51", aperture_mm="51", focal_length_mm="250")
    add(client, "cameras", name="ASI2600MM", width_px="6248", height_px="4176", pixel_size_um="3.76",
        gain_default="100", offset_default="50")
    for name in ("L", "Ha", "OIII"):
        add(client, "filters", name=name)
    with services.sessions() as session:
        ids = {row.name: row.id for model in (Site, Filter) for row in session.query(model)}
        from master.models import Camera, Telescope
        telescope, camera = session.query(Telescope).one(), session.query(Camera).one()
    page = flashes(add(client, "nodes", node_name="scope1", site_id=ids["Backyard"], telescope_id=telescope.id,
                       camera_id=camera.id, filter_ids=[ids["Ha"], ids["L"]]))
    assert "Telescope node scope1 added" in page
    assert "3.10″/px, 323′ × 216′" in page and "Ha, L" in page
    with services.sessions() as session:
        node = session.query(TelescopeNode).one()
        assert [f.name for f in node.filters] == ["Ha", "L"] and node.site.name == "Backyard"

    refused = client.post(f"/equipment/sites/{ids['Backyard']}/delete", follow_redirects=True)
    assert "Site Backyard is still in use" in flashes(refused)
    client.post(f"/equipment/filters/{ids['Ha']}/delete")
    with services.sessions() as session:
        assert [f.name for f in session.query(TelescopeNode).one().filters] == ["L"]
        assert session.get(Site, ids["Backyard"]) is not None


def test_a_node_binding_needs_a_node_name_and_a_site(client, services):
    page = flashes(add(client, "nodes", node_name="Scope One", site_id=""))
    assert "lower-case letters" in page and "choose a site" in page
    with services.sessions() as session:
        assert session.query(TelescopeNode).count() == 0


def test_a_taken_name_is_a_message_not_an_error(client):
    add(client, "filters", name="Ha")
    response = add(client, "filters", name="Ha")
    assert response.status_code == 200 and "A filter named Ha already exists" in flashes(response)


def test_names_are_escaped(client):
    add(client, "telescopes", name="<script>alert(1)</script>", focal_length_mm="400")
    page = flashes(client.get("/equipment"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_a_guest_reads_but_cannot_edit(services, client):
    add(client, "filters", name="L")
    add_user(services, "visitor", role="guest")
    guest = make_app(services).test_client()
    login(guest, "visitor")
    page = flashes(guest.get("/equipment"))
    assert 'data-item="L"' in page and "add-filters" not in page
    assert guest.post("/equipment/filters/add", data={"name": "R"}).status_code == 403


def test_forms_need_their_csrf_token(services):
    client = make_app(services, csrf=True).test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"username": "admin", "password": "correct horse battery", "csrf_token": token})
    response = client.post("/equipment/filters/add", data={"name": "L"})
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
