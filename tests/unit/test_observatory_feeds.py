"""NOAA products fetched over HTTP with an on-disk cache, against a real loopback HTTP server
that serves recorded-format responses (the parser fixtures), errors, garbage and silence."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from common.config import ConfigError, load_config
from node_observatory.safety import Verdict
from node_observatory.safety.factory import build_monitor
from node_observatory.safety.sources import KpSource, OvationSource, SmokeSource
from node_observatory.safety.sources.feed import Feed, age_text, cache_file, read_cache, render_url
from node_observatory.safety.sources.noaa import kp_document, ovation_document, smoke_document

FIXTURES = Path(__file__).parent / "fixtures" / "observatory"
NOW = datetime(2026, 11, 24, 21, 5, 30, tzinfo=timezone.utc)
KP = (FIXTURES / "kp_planetary.json").read_bytes()


class Recorded:
    """What the server answers per path: (status, body, delay in seconds); counts the hits."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.hits: list[str] = []


@pytest.fixture
def server():
    recorded = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            recorded.hits.append(self.path)
            status, body, delay = recorded.routes.get(self.path, (404, b"not found", 0.0))
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: the kernel picks a free one
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    recorded.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    recorded.stop = lambda: (httpd.shutdown(), httpd.server_close())
    try:
        yield recorded
    finally:
        httpd.shutdown()
        httpd.server_close()


def kp_feed(server, tmp_path, path="/kp.json", **kw) -> Feed:
    options = dict(refetch_s=900, max_age_s=3 * 3600, timeout_s=2.0, wait=True)
    options.update(kw)
    return Feed(server.url + path, tmp_path / "kp.cache", "NOAA SWPC", kp_document, **options)


def test_good_response_is_parsed_cached_and_not_refetched_before_the_cadence(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 0)
    feed = kp_feed(server, tmp_path)
    reading = KpSource("kp", feed).read(NOW)
    assert reading.verdict is Verdict.SAFE and reading.values == {"kp": 4.33} and reading.reasons == ()
    cached = read_cache(tmp_path / "kp.cache", feed.template)
    assert cached.body == KP and cached.fetched_at == NOW
    KpSource("kp", feed).read(NOW + timedelta(minutes=10))
    assert len(server.hits) == 1
    # a restarted node starts from the file and does not fetch inside the cadence either
    restarted = kp_feed(server, tmp_path)
    assert KpSource("kp", restarted).read(NOW + timedelta(minutes=5)).values == {"kp": 4.33}
    assert len(server.hits) == 1
    KpSource("kp", restarted).read(NOW + timedelta(minutes=15))
    assert len(server.hits) == 2


def test_http_500_without_a_cache_is_unknown_with_the_status(server, tmp_path):
    server.routes["/kp.json"] = (500, b"<html>Internal error</html>", 0)
    reading = KpSource("kp", kp_feed(server, tmp_path)).read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and reading.time is None
    assert reading.reasons == ("NOAA SWPC answered HTTP 500 Internal Server Error; no data fetched yet",)
    assert not (tmp_path / "kp.cache").exists()


def test_a_server_that_does_not_answer_times_out_without_hanging(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 3.0)
    started = time.monotonic()
    reading = KpSource("kp", kp_feed(server, tmp_path, timeout_s=0.5)).read(NOW)
    assert time.monotonic() - started < 2.5
    assert reading.verdict is Verdict.UNKNOWN
    assert reading.reasons == ("NOAA SWPC unreachable (timeout after 0.5 s); no data fetched yet",)


@pytest.mark.parametrize("body, why", [
    (b"<html><body>Service temporarily unavailable</body></html>", "input is not JSON"),
    (b"", "input is empty"),
    (b'[["time_tag","Kp"],["2026-11-24 12:00:00","high"]]', "is not a number"),
])
def test_garbage_is_refused_and_never_replaces_the_good_copy(server, tmp_path, body, why):
    server.routes["/kp.json"] = (200, body, 0)
    feed = kp_feed(server, tmp_path)
    reading = KpSource("kp", feed).read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and "NOAA SWPC sent unusable data" in reading.reasons[0]
    assert why in reading.reasons[0] and reading.reasons[0].endswith("no data fetched yet")
    server.routes["/kp.json"] = (200, KP, 0)
    assert KpSource("kp", feed).read(NOW).values == {"kp": 4.33}  # a failure is retried on the next read
    server.routes["/kp.json"] = (200, body, 0)
    later = KpSource("kp", feed).read(NOW + timedelta(minutes=20))
    assert later.values == {"kp": 4.33} and "sent unusable data" in later.reasons[0]
    assert read_cache(tmp_path / "kp.cache", feed.template).body == KP


def test_server_gone_uses_the_cache_then_stale_is_unknown(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 0)
    feed = kp_feed(server, tmp_path)
    assert KpSource("kp", feed).read(NOW).verdict is Verdict.SAFE
    server.stop()
    within = KpSource("kp", feed).read(NOW + timedelta(minutes=20))
    assert within.verdict is Verdict.SAFE and within.values == {"kp": 4.33}
    assert within.reasons == ("NOAA SWPC unreachable (connection refused); using data fetched 20 min ago",)
    stale = KpSource("kp", feed).read(NOW + timedelta(hours=3, minutes=1))
    assert stale.verdict is Verdict.UNKNOWN and stale.time is None
    assert stale.reasons == ("NOAA SWPC unreachable (connection refused); last good data 3 h old",)


def test_the_node_loop_never_waits_for_a_fetch(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 1.0)
    feed = kp_feed(server, tmp_path, wait=False)
    started = time.monotonic()
    first = KpSource("kp", feed).read(NOW)
    assert time.monotonic() - started < 0.5
    assert first.verdict is Verdict.UNKNOWN
    assert first.reasons == ("NOAA SWPC first fetch in progress; no data fetched yet",)
    feed._thread.join(5)
    assert KpSource("kp", feed).read(NOW + timedelta(seconds=5)).values == {"kp": 4.33}
    assert len(server.hits) == 1


def test_ovation_and_smoke_over_http_and_a_daily_url(server, tmp_path):
    server.routes["/ovation.json"] = (200, (FIXTURES / "ovation.json").read_bytes(), 0)
    server.routes["/KML/2026/11/hms_smoke20261124.kml"] = (200, (FIXTURES / "smoke.kml").read_bytes(), 0)
    ovation = Feed(server.url + "/ovation.json", tmp_path / "a.cache", "NOAA SWPC", ovation_document,
                   refetch_s=300, max_age_s=3600, timeout_s=2, wait=True)
    assert OvationSource("aurora", ovation, 45.2, 5.8).read(NOW).values["aurora_probability"] == 7
    template = server.url + "/KML/{now:%Y}/{now:%m}/hms_smoke{now:%Y%m%d}.kml"
    assert render_url(template, NOW).endswith("/KML/2026/11/hms_smoke20261124.kml")
    smoke = Feed(template, tmp_path / "s.cache", "NOAA HMS", smoke_document, refetch_s=3600,
                 max_age_s=6 * 3600, timeout_s=2, wait=True)
    reading = SmokeSource("smoke", smoke, 35.3, -105.35, 10).read(NOW)
    assert reading.values["smoke_level"] == 2 and reading.time == NOW  # fetch time: the KML has none
    # just after midnight UTC the new day's file is not there yet: yesterday's copy is still used
    next_day = SmokeSource("smoke", smoke, 35.3, -105.35, 10).read(NOW + timedelta(hours=3))
    assert next_day.values["smoke_level"] == 2
    assert next_day.reasons == ("NOAA HMS answered HTTP 404 Not Found; using data fetched 3 h ago",)


def test_damaged_or_reconfigured_cache_is_ignored(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 0)
    server.routes["/other.json"] = (500, b"", 0)
    KpSource("kp", kp_feed(server, tmp_path)).read(NOW)
    other = kp_feed(server, tmp_path, path="/other.json")  # the URL changed: the old copy is not its data
    assert KpSource("kp", other).read(NOW).reasons[0].endswith("no data fetched yet")
    (tmp_path / "kp.cache").write_bytes(b"not a header\n" + KP)
    assert read_cache(tmp_path / "kp.cache", server.url + "/kp.json") is None
    assert KpSource("kp", kp_feed(server, tmp_path)).read(NOW).values == {"kp": 4.33}


def test_age_text():
    assert [age_text(s) for s in (5, 600, 3 * 3600 + 60, 5 * 86400)] == ["5 s", "10 min", "3 h", "5 days"]


def _config(tmp_path, source: str):
    path = tmp_path / "observatory.toml"
    path.write_text(f'[safety]\ncache_dir = "{tmp_path / "cache"}"\n[[safety.sources]]\nname = "kp"\n' + source)
    return path


def test_config_builds_a_fetching_source(server, tmp_path):
    server.routes["/kp.json"] = (200, KP, 0)
    path = _config(tmp_path, f'type = "kp"\nurl = "{server.url}/kp.json"\ncadence_s = 900\nmax_age_s = 14400\n')
    monitor = build_monitor(load_config("observatory", path), hold_at_start=False, wait_fetch=True)
    status = monitor.step(NOW)
    assert status.sources[0].reading.values == {"kp": 4.33}
    assert cache_file(tmp_path / "cache", "kp").is_file()


@pytest.mark.parametrize("source, message", [
    ('type = "kp"\n', "needs exactly one of path and url"),
    ('type = "kp"\npath = "/x"\nurl = "https://x.example/kp"\n', "needs exactly one of path and url"),
    ('type = "boltwood"\npath = "/x"\nurl = "https://x.example/kp"\n', "only types kp, ovation, smoke may use url"),
    ('type = "kp"\nurl = "ftp://x.example/kp"\ncadence_s = 900\nmax_age_s = 9000\n', "not an http:// or https://"),
    ('type = "kp"\nurl = "https://x.example/{day}"\ncadence_s = 900\nmax_age_s = 9000\n', "placeholder other than"),
    ('type = "kp"\nurl = "https://x.example/kp"\ncadence_s = 10\n', "too often for a network feed"),
    ('type = "kp"\nurl = "https://x.example/kp"\ncadence_s = 900\nmax_age_s = 600\n', "must be larger than cadence_s"),
])
def test_config_refuses_bad_url_sources(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        load_config("observatory", _config(tmp_path, source))
