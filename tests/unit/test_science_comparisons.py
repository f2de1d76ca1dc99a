"""Comparison stars from a catalogue file and from AAVSO VSP (a recorded answer served on loopback)."""
from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from master.models import CatalogLookup, PhotometryRun
from master.science.comparison_file import parse_catalogue
from master.science.run_request import RequestError
from master.science.vsp import VspError, chart_comparisons, fetch_chart, vsp_comparisons
from tests.unit.cds_server import FakeSesame
from tests.unit.test_web_support import add_frame, add_user, login, make_app, make_services

CHART = (Path(__file__).parent / "fixtures" / "vsp" / "chart.json").read_bytes()
QUERY = "format=json&star=V0001+Tst&fov=30&maglimit=16"  # as sent (urlencode writes + for spaces)


@pytest.fixture
def vsp():
    server = FakeSesame()  # answers by query string, whatever the path
    server.answer(QUERY, CHART)
    server.answer("format=json&star=Nothing&fov=30&maglimit=16", b'{"errors": ["star not found"]}')
    server.base = server.url.replace("/cgi-bin/nph-sesame", "/vsp/api/chart")
    yield server
    server.stop()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/vsp/api/chart"


@pytest.fixture
def services(tmp_path, monkeypatch, vsp):
    services = make_services(tmp_path, monkeypatch, catalog={"enabled": True, "vsp_url": vsp.base, "timeout_s": 2})
    yield services
    services.close()


def test_catalogue_csv_in_degrees_or_sexagesimal():
    text = "# my comparison stars\nname;RA;Dec;V\nA;150.125;55.5;12.3\nB;10:00:30;-05:30:00;13.1\n"
    stars = parse_catalogue(text.encode())
    assert [(s["name"], s["mag"], s["source"]) for s in stars] == [("A", 12.3, "catalogue file"),
                                                                   ("B", 13.1, "catalogue file")]
    assert stars[1]["ra"] == pytest.approx(150.125) and stars[1]["dec"] == pytest.approx(-5.5)
    assert parse_catalogue(b"ra,dec,mag\n1,2,3\n")[0]["name"] == "C1"
    with pytest.raises(RequestError, match="no magnitude column"):
        parse_catalogue(b"name,ra,dec\nA,1,2\n")
    with pytest.raises(RequestError, match="line 3: 'x' is not an angle"):
        parse_catalogue(b"ra,dec,mag\n1,2,3\nx,2,3\n")
    with pytest.raises(RequestError, match="line 2: RA must be"):
        parse_catalogue(b"ra,dec,mag\n400,2,3\n")
    with pytest.raises(RequestError, match="empty"):
        parse_catalogue(b"  \n")
    saved = parse_catalogue(CHART, band="V")  # a chart saved from VSP is a catalogue file too
    assert [s["name"] for s in saved] == ["000-TST-101", "000-TST-102"]


def test_vsp_chart_is_fetched_once_then_cached(services, vsp):
    with services.sessions() as session:
        stars, source = vsp_comparisons(session, services.config.catalog, "V0001  Tst")
        assert source == "AAVSO VSP chart X00001TST"
        assert len(vsp.paths) == 1 and vsp.paths[0].startswith("/vsp/api/chart/?format=json&star=V0001+Tst&fov=30")
        again, source = vsp_comparisons(session, services.config.catalog, "v0001 tst")
        assert source.endswith("(cache)") and again == stars and len(vsp.paths) == 1
        assert session.scalar(select(CatalogLookup.query_key)) == "vsp:v0001 tst:30:16"
    first, second = stars
    assert (first["name"], first["label"], first["mag"], first["mag_err"]) == ("000-TST-101", "118", 11.82, 0.021)
    assert first["chart"] == "X00001TST"  # goes into the AAVSO report's CHART field
    assert first["ra"] == pytest.approx(149.875) and first["dec"] == pytest.approx(55.05)
    assert second["dec"] == pytest.approx(54.958333, abs=1e-6)
    ic = chart_comparisons(json.loads(CHART), "Ic")
    assert [s["name"] for s in ic] == ["000-TST-102"]
    with pytest.raises(VspError, match="no comparison star with a K magnitude"):
        chart_comparisons(json.loads(CHART), "K")


def test_vsp_unknown_star_offline_and_disabled_say_why(services, vsp):
    config = services.config.catalog
    with services.sessions() as session:
        with pytest.raises(VspError, match="no chart for 'Nothing': \\['star not found'\\]"):
            fetch_chart(session, config, "Nothing")
        with pytest.raises(VspError, match="not JSON"):
            fetch_chart(session, config, "Garbage")  # the server's default answer is XML
        with pytest.raises(VspError, match="could not be reached .*catalogue file"):
            fetch_chart(session, config.model_copy(update={"vsp_url": closed_port_url()}), "V0001 Tst")
        with pytest.raises(VspError, match="online lookups are off"):
            fetch_chart(session, config.model_copy(update={"enabled": False}), "V0001 Tst")
        assert session.scalar(select(CatalogLookup)) is None  # failures are not kept


def start(client, **form):
    data = {"target_name": "V0001 Tst", "ra": "150", "dec": "55", "comparisons": "", **form}
    return client.post("/photometry", data=data, content_type="multipart/form-data", follow_redirects=True)


def runs(services):
    with services.sessions() as session:
        return [r.comparisons for r in session.scalars(select(PhotometryRun).order_by(PhotometryRun.id))]


def test_portal_takes_comparisons_from_a_file_or_vsp(services, vsp):
    add_frame(services, target_name="V0001 Tst")
    add_user(services, "observer", role="observer")
    client = make_app(services).test_client()
    login(client, "observer")
    page = start(client, catalogue=(io.BytesIO(b"name,ra,dec,mag\nA,150.1,55.1,12.0\n"), "comps.csv"))
    assert "1 comparison stars from catalogue file comps.csv" in page.get_data(as_text=True)
    page = start(client, vsp_star="V0001 Tst", band="V").get_data(as_text=True)
    assert "2 comparison stars from AAVSO VSP chart X00001TST" in page
    assert [len(c) for c in runs(services)] == [1, 2] and runs(services)[1][0]["source"] == "AAVSO VSP chart X00001TST"
    services.config.catalog.vsp_url = closed_port_url()
    page = start(client, vsp_star="Other Star").get_data(as_text=True)
    assert "AAVSO VSP could not be reached" in page and len(runs(services)) == 2  # no run started
    page = start(client, catalogue=(io.BytesIO(b"name,ra,dec\nA,1,2\n"), "bad.csv")).get_data(as_text=True)
    assert "no magnitude column" in page and len(runs(services)) == 2
