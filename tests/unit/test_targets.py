"""Targets: the offline catalogue, coordinates, CSV, and the pages."""
from __future__ import annotations

import io
import re

import pytest

from master.catalog.coords import CoordinateError, parse_dec, parse_ra
from master.catalog.openngc import search
from master.models import Target
from master.target_files import TargetFileError, parse_csv
from master.target_import import import_targets
from master.targets import add_by_coordinates, export_csv
from tests.unit.test_web_support import PASSWORD, make_app


@pytest.mark.parametrize("query, name, catalog_id", [
    ("M31", "M 31", "NGC0224"), ("m 42", "M 42", "NGC1976"), ("NGC 7000", "NGC 7000", "NGC7000"),
    ("IC434", "IC 434", "IC0434"), ("Orion Nebula", "M 42", "NGC1976"), ("andromeda", "M 31", "NGC0224"),
])
def test_offline_catalogue_resolves_designations_and_common_names(query, name, catalog_id):
    first = search(query)[0]
    assert (first.name, first.catalog_id) == (name, catalog_id)


def test_catalogue_entry_has_coordinates_and_details():
    m31 = search("M 31")[0]
    assert m31.ra_deg == pytest.approx(10.6847, abs=1e-3) and m31.dec_deg == pytest.approx(41.269, abs=1e-3)
    assert m31.object_type == "Galaxy" and m31.constellation == "And" and "Andromeda Galaxy" in m31.common_names
    m42 = search("M42")[0]
    assert m42.dec_deg == pytest.approx(-5.39, abs=0.01)  # the sign of a southern declination survives
    assert search("no such thing at all") == [] and search("   ") == []


@pytest.mark.parametrize("ra, expected", [("00:42:44.3", 10.6846), ("0h42m44.3s", 10.6846), ("00 42 44.3", 10.6846),
                                          ("10.6846", 10.6846)])
def test_right_ascension_forms(ra, expected):
    assert parse_ra(ra) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("dec, expected", [("+41:16:09", 41.2692), ("-05 23 28", -5.3911), ("41d16m09s", 41.2692),
                                           ("-0.5", -0.5)])
def test_declination_forms(dec, expected):
    assert parse_dec(dec) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("bad", ["25:00:00", "abc", "400"])
def test_bad_right_ascension_is_explained(bad):
    with pytest.raises(CoordinateError, match="right ascension"):
        parse_ra(bad)


def test_bad_declination_is_explained():
    with pytest.raises(CoordinateError, match="declination"):
        parse_dec("+95:00:00")


def test_csv_round_trip_and_bad_rows(services):
    with services.sessions() as session:
        add_by_coordinates(session, "My comet field", "12:00:00", "+10:00:00", tags=["comet"], public=True)
        session.commit()
        text = export_csv(session)
    assert "My comet field,12:00:00.00,+10:00:00.0,,,,,comet,yes," in text
    rows = parse_csv(text.replace("My comet field", "Copy") + "Broken,99:00:00,+10\nMy comet field,01:00:00,+01:00:00\n")
    with services.sessions() as session:
        refused = import_targets(session, rows)
        assert not refused.applied and refused.errors == ["line 3 (Broken): right ascension '99:00:00' is not understood: give hours as 10:41:02 or degrees as 160.26"]
        assert session.query(Target).count() == 1  # one bad row: nothing written
    rows = parse_csv(text.replace("My comet field", "Copy") + "Broken,99:00:00,+10\nMy comet field,01:00:00,+01:00:00\n")
    with services.sessions() as session:
        report = import_targets(session, rows, skip_bad=True)
        session.commit()
        assert report.added == ["Copy"] and len(report.errors) == 1
        assert report.skipped == ["line 4 (My comet field): already a target (My comet field); left as it is"]
        copy = session.query(Target).filter_by(name="Copy").one()
        assert copy.ra_deg == pytest.approx(180.0) and copy.public and copy.tags == ["comet"]
        with pytest.raises(TargetFileError, match="header row"):
            parse_csv("a,b\n1,2\n")


def csrf(client, path="/targets") -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).data.decode()).group(1)


def test_pages_search_add_show_export_and_import(client):
    page = client.get("/targets?q=Orion+Nebula").data.decode()
    assert 'data-result="NGC1976"' in page and "Great Orion Nebula" in page
    token = csrf(client)
    answer = client.post("/targets/from-catalog", data={"catalog_name": "NGC1976", "csrf_token": token})
    assert answer.status_code == 302 and "/targets/" in answer.location
    detail = client.get(answer.location).data.decode()
    assert "M 42" in detail and "05:35:16" in detail and "Star cluster + Nebula" in detail
    again = client.post("/targets/from-catalog", data={"catalog_name": "NGC1976", "csrf_token": token},
                        follow_redirects=True)
    assert "already exists" in again.data.decode()
    bad = client.post("/targets/by-coordinates", follow_redirects=True,
                      data={"name": "X", "ra": "nope", "dec": "+1", "csrf_token": token}).data.decode()
    assert "right ascension" in bad
    client.post("/targets/by-coordinates", data={"name": "<b>Field</b>", "ra": "1:00:00", "dec": "+1:00:00",
                                                 "csrf_token": token})
    listing = client.get("/targets").data.decode()
    assert "&lt;b&gt;Field&lt;/b&gt;" in listing and "<b>Field</b>" not in listing
    exported = client.get("/targets/export.csv")
    assert exported.mimetype == "text/csv" and b"M 42" in exported.data
    imported = client.post("/targets/import", content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": token, "file": (io.BytesIO(b"name,ra,dec\nNew one,2:00:00,+2:00:00\n"), "t.csv")})
    assert "t.csv: 1 added" in imported.data.decode()
    api = client.get("/api/v1/targets").json
    assert sorted(t["name"] for t in api["items"]) == ["<b>Field</b>", "M 42", "New one"]
    assert client.get("/api/v1/catalog/search?q=M31").json["items"][0]["catalog_id"] == "NGC0224"


def test_forms_need_csrf(services):
    client = make_app(services, csrf=True).test_client()
    token = csrf(client, "/login")
    assert client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}).status_code == 302
    answer = client.post("/targets/by-coordinates", data={"name": "X", "ra": "1", "dec": "1"})
    assert answer.status_code == 400  # logged in, but no token: refused
    with services.sessions() as session:
        assert session.query(Target).count() == 0
