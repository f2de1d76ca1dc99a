"""Online target lookup through CDS Sesame: parsing recorded answers, a real loopback server, the cache, the portal."""
from __future__ import annotations

import re
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from common.config import CatalogConfig, ConfigError, load_config
from master.catalog import fetch, lookup
from master.catalog.sesame import SesameError, lookup_url, parse
from master.models import CatalogLookup, Target
from tests.unit.cds_server import FakeSesame, recorded
from tests.unit.test_web_support import add_user, login, make_app, make_services

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)


@pytest.fixture
def sesame():
    server = FakeSesame()
    yield server
    server.stop()


def config_for(server: FakeSesame | None = None, **fields) -> CatalogConfig:
    url = server.url if server else "http://127.0.0.1:9/cgi-bin/nph-sesame"
    return CatalogConfig(**{"sesame_url": url, "timeout_s": 2.0, **fields})


# --- the XML ---------------------------------------------------------------------------------------

def test_a_found_name_gives_position_type_magnitude_and_identifiers():
    [vega] = parse(recorded("vega.xml"))
    assert (vega.name, vega.catalog_id, vega.source) == ("Vega", "* alf Lyr", "SIMBAD")
    assert vega.ra_deg == pytest.approx(279.23473479) and vega.dec_deg == pytest.approx(38.78368896)
    assert vega.object_type == "High proper-motion star" and vega.magnitude == 0.03  # V, not B
    assert vega.constellation == "Lyr" and vega.common_names == ["Vega"]
    assert "HIP 91262" in vega.other_ids and "* alf Lyr" not in vega.other_ids  # spacing folded, main id once


def test_a_star_known_only_by_its_name_keeps_the_name():
    [star] = parse(recorded("barnard.xml"))
    assert (star.name, star.catalog_id) == ("Barnard's star", "NAME Barnard's star")
    assert star.object_type == "BY Draconis variable" and star.magnitude == 9.511 and star.constellation == "Oph"


def test_nothing_found_is_an_empty_answer_not_an_error():
    assert parse(recorded("nothing.xml")) == []


def test_resolvers_that_disagree_give_every_object_once():
    found = parse(recorded("sh2-155.xml"))
    assert [(e.name, e.source) for e in found] == [("Cave Nebula", "SIMBAD"), ("[S59] 155", "VizieR")]
    assert found[0].object_type == "HII region"  # NED's answer at the same position is the same nebula


@pytest.mark.parametrize("body, words", [
    (recorded("unavailable.html"), "not a Sesame document"),
    (b"<Sesame><Target><Resolver><jradeg>279.2", "not XML"),
    (b"", "not XML"),
    (b"<Sesame><Target><Resolver><jradeg>abc</jradeg><jdedeg>1</jdedeg></Resolver></Target></Sesame>",
     "not a number"),
    (b"<Sesame><Target><Resolver><jradeg>400</jradeg><jdedeg>1</jdedeg></Resolver></Target></Sesame>",
     "outside the sky"),
])
def test_garbage_is_refused_with_a_reason(body, words):
    with pytest.raises(SesameError, match=words):
        parse(body)


def test_the_url_asks_for_xml_with_identifiers_and_quotes_the_name():
    assert lookup_url("https://cds.example/cgi-bin/nph-sesame/", "Barnard's Star", "SNV") == \
        "https://cds.example/cgi-bin/nph-sesame/-oxI/SNV?Barnard%27s%20Star"


def test_config_refuses_a_url_that_is_not_http():
    with pytest.raises(ConfigError, match="sesame_url"):
        load_config("master", None, catalog={"sesame_url": "ftp://cds"})


# --- a real server, the cache --------------------------------------------------------------------

@pytest.fixture
def session(services):
    with services.sessions() as session:
        yield session


def test_found_then_served_from_the_cache_with_the_server_stopped(session, sesame):
    sesame.answer("HD 209458", "hd209458.xml")
    config = config_for(sesame)
    first = lookup.search(session, config, "HD  209458", now=NOW)
    assert first.notice is None and not first.cached and first.source == "SIMBAD (Sesame)"
    assert [(e.name, e.object_type, e.magnitude) for e in first.entries] == [("HD 209458", "Star", 7.65)]
    assert sesame.paths == ["/cgi-bin/nph-sesame/-oxI/SNV?HD%20209458"]
    sesame.stop()
    again = lookup.search(session, config, "hd 209458", now=NOW + timedelta(days=29))
    assert again.cached and again.source == "SIMBAD (cache)" and again.notice is None
    assert again.entries == first.entries
    stale = lookup.search(session, config, "HD 209458", now=NOW + timedelta(days=31))
    assert stale.notice.startswith("SIMBAD unreachable: cannot connect") and stale.entries == []


def test_a_name_nobody_knows_is_kept_for_a_shorter_time(session, sesame):
    config = config_for(sesame, miss_cache_hours=6)
    assert lookup.search(session, config, "Xyzzy 4242", now=NOW).entries == []
    assert lookup.search(session, config, "Xyzzy 4242", now=NOW + timedelta(hours=5)).cached
    assert len(sesame.paths) == 1
    later = lookup.search(session, config, "Xyzzy 4242", now=NOW + timedelta(hours=7))
    assert not later.cached and len(sesame.paths) == 2 and later.notice is None


def test_several_objects_are_all_offered(session, sesame):
    sesame.answer("Sh2-155", "sh2-155.xml")
    outcome = lookup.search(session, config_for(sesame), "Sh2-155", now=NOW)
    assert outcome.source == "SIMBAD, VizieR (Sesame)" and len(outcome.entries) == 2
    assert outcome.find("[S59] 155").dec_deg == pytest.approx(62.65)


@pytest.mark.parametrize("status, body, reason", [
    (500, b"<html><body>Internal Server Error</body></html>", "HTTP 500 Internal Server Error;"),
    (200, recorded("unavailable.html"), "the answer is <html>, not a Sesame document;"),
    (200, b"\x00\xff garbage \x01", "the answer is not XML ("),
])
def test_errors_and_garbage_say_so_and_are_not_cached(session, sesame, status, body, reason):
    sesame.answer("Vega", body, status=status)
    outcome = lookup.search(session, config_for(sesame), "Vega", now=NOW)
    assert outcome.entries == [] and outcome.notice.startswith(f"SIMBAD unreachable: {reason}")
    assert outcome.notice.endswith("; only the offline catalogue was searched")
    assert session.get(CatalogLookup, "vega") is None
    lookup.search(session, config_for(sesame), "Vega", now=NOW)
    assert len(sesame.paths) == 2  # asked again: a failure is not an answer


def test_a_server_slower_than_the_timeout_is_given_up_on_in_time(session, sesame):
    sesame.answer("Vega", "vega.xml", delay_s=3.0)
    started = time.monotonic()
    outcome = lookup.search(session, config_for(sesame, timeout_s=0.5), "Vega", now=NOW)
    elapsed = time.monotonic() - started
    assert outcome.notice == "SIMBAD unreachable: no answer within 0.5 s; only the offline catalogue was searched"
    assert elapsed < 1.5 and outcome.entries == []


def test_a_server_that_trickles_its_answer_is_given_up_on_in_time(session, sesame):
    # each byte comes well within the socket timeout, the whole answer far beyond it
    sesame.answer("Vega", "vega.xml", drip_s=0.05)
    started = time.monotonic()
    outcome = lookup.search(session, config_for(sesame, timeout_s=0.5), "Vega", now=NOW)
    assert outcome.notice == \
        "SIMBAD unreachable: no complete answer within 0.5 s; only the offline catalogue was searched"
    assert time.monotonic() - started < 1.5


def test_a_server_that_stalls_in_the_middle_of_its_answer_is_given_up_on(session, sesame):
    sesame.answer("Vega", "vega.xml", drip_s=1.0)  # headers, one byte, then longer than the timeout
    outcome = lookup.search(session, config_for(sesame, timeout_s=0.5), "Vega", now=NOW)
    assert outcome.notice.startswith("SIMBAD unreachable: ") and "0.5 s" in outcome.notice


def test_a_server_that_hangs_up_half_way_is_explained(session, sesame):
    sesame.answer("Vega", "vega.xml", cut_at=300)
    outcome = lookup.search(session, config_for(sesame), "Vega", now=NOW)
    assert outcome.entries == [] and "300 bytes read" in outcome.notice


def test_a_name_server_that_never_answers_is_given_up_on_in_time(session, monkeypatch):
    # requests' timeouts do not cover name resolution: only the outer deadline ends this wait
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kw: time.sleep(3) or real(host, *args, **kw))
    config = CatalogConfig(sesame_url="http://cds.example.invalid/cgi-bin/nph-sesame", timeout_s=0.5)
    started = time.monotonic()
    outcome = lookup.search(session, config, "Vega", now=NOW)
    assert outcome.notice == "SIMBAD unreachable: no answer within 0.5 s; only the offline catalogue was searched"
    assert time.monotonic() - started < 1.5


def test_a_port_nobody_listens_on_is_unreachable_at_once(session):
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = CatalogConfig(sesame_url=f"http://127.0.0.1:{port}/sesame", timeout_s=2.0)
    started = time.monotonic()
    outcome = lookup.search(session, config, "Vega", now=NOW)
    assert re.fullmatch(r"SIMBAD unreachable: cannot connect \(.*[Cc]onnection refused\); only the offline .*",
                        outcome.notice)
    assert time.monotonic() - started < 2


def test_an_answer_too_large_to_be_a_sesame_answer_is_refused(session, sesame, monkeypatch):
    monkeypatch.setattr(fetch, "MAX_BYTES", 500)  # the recorded Vega answer is longer
    sesame.answer("Vega", "vega.xml")
    outcome = lookup.search(session, config_for(sesame), "Vega", now=NOW)
    assert outcome.notice.startswith("SIMBAD unreachable: answer larger than 500 bytes;")


def test_a_url_requests_cannot_use_is_explained(session):
    outcome = lookup.search(session, CatalogConfig(sesame_url="http://[::1/sesame"), "Vega", now=NOW)
    assert outcome.notice.startswith("SIMBAD unreachable: ") and "not a valid host" in outcome.notice


def test_the_offline_catalogue_answers_first_and_switched_off_means_never_asked(session, sesame):
    config = config_for(sesame)
    assert lookup.search(session, config, "M31", now=NOW).entries[0].source == "OpenNGC"
    off = lookup.search(session, config_for(sesame, enabled=False), "Vega", now=NOW)
    assert off.entries == [] and "switched off" in off.notice
    assert sesame.paths == []


# --- the portal and the API ----------------------------------------------------------------------

@pytest.fixture
def online_client(tmp_path, monkeypatch, sesame):
    services = make_services(tmp_path, monkeypatch, catalog={"sesame_url": sesame.url, "timeout_s": 1.0})
    add_user(services)
    client = make_app(services).test_client()
    login(client)
    yield client, services
    services.close()


def test_api_search_shows_the_source_and_the_cache(online_client, sesame):
    client, _ = online_client
    sesame.answer("Barnard's Star", "barnard.xml")
    answer = client.get("/api/v1/catalog/search?q=Barnard%27s+Star").json
    assert answer["source"] == "SIMBAD (Sesame)" and answer["notice"] is None
    item = answer["items"][0]
    assert (item["name"], item["source"], item["cached"], item["magnitude"]) == ("Barnard's star", "SIMBAD", False, 9.511)
    assert client.get("/api/v1/catalog/search?q=barnard%27s+star").json["items"][0]["cached"] is True
    assert client.get("/api/v1/catalog/search?q=M31").json["source"] == "OpenNGC (offline)"


def test_api_and_page_explain_an_unreachable_service(online_client, sesame):
    client, _ = online_client
    sesame.answer("Vega", b"oops", status=503)
    api = client.get("/api/v1/catalog/search?q=Vega")
    assert api.status_code == 200 and api.json["items"] == []
    assert api.json["notice"] == "SIMBAD unreachable: HTTP 503 Service Unavailable; only the offline catalogue was searched"
    page = client.get("/targets?q=Vega")
    assert page.status_code == 200 and "SIMBAD unreachable: HTTP 503" in page.get_data(as_text=True)


def test_page_lists_a_simbad_result_and_adds_it_from_the_cache(online_client, sesame):
    client, services = online_client
    sesame.answer("Barnard's Star", "barnard.xml")
    page = client.get("/targets?q=Barnard%27s+Star").get_data(as_text=True)
    assert 'data-source="SIMBAD"' in page and "Found in SIMBAD (Sesame)" in page
    assert re.search(r'name="query" value="Barnard&#39;s Star"', page)
    sesame.stop()  # adding finds the result again in the cache
    answer = client.post("/targets/from-catalog", data={"catalog_name": "NAME Barnard's star",
                                                        "query": "Barnard's Star"})
    assert answer.status_code == 302 and "/targets/" in answer.location
    with services.sessions() as session:
        target = session.query(Target).one()
        assert (target.name, target.catalog_id, target.magnitude) == ("Barnard's star", "NAME Barnard's star", 9.511)
        assert target.ra_deg == pytest.approx(269.45207511) and target.constellation == "Oph"


def test_page_says_when_nobody_knows_the_name(online_client, sesame):
    client, _ = online_client
    page = client.get("/targets?q=Xyzzy+4242").get_data(as_text=True)
    assert "nor CDS (SIMBAD, NED, VizieR) knows" in page and len(sesame.paths) == 1
