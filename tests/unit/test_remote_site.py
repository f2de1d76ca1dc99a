"""The remote node without a broker: state updates, the pages, the SSE stream, the command."""
import json
import re
import threading
import time

from click.testing import CliRunner

from common import live
from common.contracts import JobProgress, MountReport, RoofState, SafetyState
from node_remote.cli import remote_group
from node_remote.state import LiveState, handle_message
from node_remote.web import create_app


def feed(state, leaf, payload, prefix="obsy"):
    body = payload if isinstance(payload, bytes) else payload.to_json().encode()
    handle_message(state, prefix, f"{prefix}/{state.site}/{leaf}", body, True)


def test_handle_message_applies_valid_payloads_and_rejects_others():
    state = LiveState("home")
    feed(state, "safety", live.safety_payload(SafetyState(node="roof1", state="unsafe", reasons=["rain"])))
    feed(state, "activity", live.LiveActivity(text="roof1: sky unsafe"))
    feed(state, "bogus", b"{}")
    feed(state, "job", b"not json")
    feed(state, "job", live.LiveStatus(state="online"))  # wrong schema for the topic
    handle_message(state, "obsy", "obsy/elsewhere/safety", b"{}", True)  # another site: ignored
    snapshot = state.snapshot()
    assert snapshot["topics"]["safety"]["reasons"] == ["rain"]
    assert "activity" not in snapshot["topics"] and snapshot["activity"][0]["text"] == "roof1: sky unsafe"
    assert state.rejected == 3 and "does not carry" in state.last_rejection
    feed(state, "safety", b"")  # an empty retained message clears the topic
    assert "safety" not in state.snapshot()["topics"]


def test_streams_receive_changes_bounded_and_limited():
    state = LiveState("home")
    stream = state.open_stream(limit=1)
    assert state.open_stream(limit=1) is None and state.stream_count == 1
    state.set_connected(True)
    state.set_connected(True)  # no change, no event
    assert stream.get_nowait()["connection"]["connected"] is True
    for n in range(150):  # a stalled client keeps only the newest changes
        state.update("job", {"n": n})
    items = [stream.get_nowait() for _ in range(stream.qsize())]
    assert len(items) == 100 and items[-1]["payload"] == {"n": 149}
    state.update("safety", {"state": "safe"})
    state.clear("safety")
    state.clear("safety")  # nothing left to clear: no event
    assert [stream.get_nowait()["type"] for _ in range(2)] == ["topic", "clear"] and stream.empty()
    state.set_connected(False)
    lost = stream.get_nowait()["connection"]
    assert lost["connected"] is False and lost["lost_since"]
    state.close()
    assert stream.get_nowait() is None
    state.close_stream(stream)
    assert state.stream_count == 0


def test_page_shows_state_with_strict_csp_and_escapes():
    state = LiveState("home")
    state.set_connected(True)
    feed(state, "safety", live.safety_payload(SafetyState(node="roof1", state="safe")))
    feed(state, "job", live.job_payload(JobProgress(job_id="j1", node="scope1", state="exposing",
                                                    target="<script>x</script>", frame_index=2, frame_total=8)))
    feed(state, "nodes/scope1", live.LiveNode(node="scope1", role="telescope", state="idle"))
    feed(state, "frame/latest", live.LiveFrame(frame_id=9, object_name="M 42", frame_path="/api/v1/frames/9",
                                                     date_obs="2026-03-09T21:30:00Z"))
    app = create_app(state, title="Test site", master_url="https://portal.example.org/")
    client = app.test_client()
    page = client.get("/")
    html = page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "img-src 'self' https://portal.example.org;" in csp
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert 'data-field="safety.state">safe<' in html and 'value="0.25"' in html
    assert 'href="https://portal.example.org/api/v1/frames/9"' in html
    assert "scope1 (telescope): idle" in html and ">live<" in html
    assert 'data-format="time">2026-03-09 21:30:00 UTC<' in html
    assert "https://" not in html.split("<body")[0].replace("https://portal.example.org", "")  # no CDN
    assert client.get("/static/live.js").status_code == 200
    state.set_connected(False)
    lost_page = client.get("/").get_data(as_text=True)
    assert re.search(r"connection lost since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lost_page)
    api = client.get("/api/state").get_json()
    assert api["topics"]["job"]["frame_index"] == 2 and api["connection"]["connected"] is False
    assert client.get("/healthz").get_json() == {"ok": True, "mqtt_connected": False}


def test_page_lists_each_roof_and_mount_escaped():
    state = LiveState("home")
    app = create_app(state)
    empty = app.test_client().get("/").get_data(as_text=True)
    assert "no roof reported yet" in empty and "no mount reported yet" in empty
    feed(state, "roof/roof1", live.roof_payload(RoofState(node="roof1", state="open", activity="idle")))
    feed(state, "roof/roof2", live.roof_payload(RoofState(node="roof2", state="error", activity="alarm",
                                                          alarm="<img src=x onerror=alert(1)>")))
    feed(state, "mount/scope1", live.mount_payload(MountReport(node="scope1", parked=False)))
    html = app.test_client().get("/").get_data(as_text=True)
    assert 'data-roof="roof1" data-state="open">roof1: open (idle)' in html
    assert "<img src=x" not in html and "alarm: &lt;img src=x onerror=alert(1)&gt;" in html
    assert 'data-mount="scope1" data-state="unparked">scope1: unparked' in html
    assert "no roof reported yet" not in html
    assert html.index('data-roof="roof1"') < html.index('data-roof="roof2"')


def test_events_stream_starts_with_state_then_changes():
    state = LiveState("home")
    feed(state, "safety", live.safety_payload(SafetyState(node="roof1", state="safe")))
    app = create_app(state, max_streams=1, keepalive_s=0.05)
    client = app.test_client()
    response = client.get("/events", buffered=False)
    assert response.mimetype == "text/event-stream" and response.headers["Cache-Control"] == "no-store"
    chunks = (chunk.decode() for chunk in response.response)
    assert next(chunks).startswith("retry:")
    first = next(chunks)
    assert first.startswith("event: state\n")
    assert json.loads(first.split("data: ", 1)[1])["topics"]["safety"]["state"] == "safe"
    assert client.get("/events").status_code == 503  # max_streams reached
    assert next(chunks) == ": keepalive\n\n"
    feed(state, "job", live.job_payload(JobProgress(job_id="j1", node="scope1", state="started")))
    change = next(chunks)
    assert change.startswith("event: topic\n") and '"leaf":"job"' in change
    state.close()
    assert list(chunks) == []
    response.close()
    assert state.stream_count == 0


def test_remote_command_rejects_a_bad_bind(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(remote_group, ["--bind", "nonsense"])
    assert result.exit_code != 0 and "is not host:port" in result.output
    (tmp_path / "bad.toml").write_text("[web]\nport = -1\n")
    result = CliRunner().invoke(remote_group, ["--config", str(tmp_path / "bad.toml")])
    assert result.exit_code != 0 and "web.port = -1" in result.output


def test_remote_command_serves_until_signalled(tmp_path, monkeypatch):
    import signal

    handlers = {}
    monkeypatch.setattr(signal, "signal", lambda sig, fn: handlers.setdefault(sig, fn))
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("OBSY_MQTT__PORT", "1")  # nothing listens: the site runs anyway
    def terminate():  # like SIGTERM, once the command has set its handlers and started
        deadline = time.monotonic() + 10
        while signal.SIGTERM not in handlers and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        handlers.get(signal.SIGTERM, lambda: None)()

    sender = threading.Thread(target=terminate)
    sender.start()
    result = CliRunner().invoke(remote_group, ["--bind", "127.0.0.1:0"])
    sender.join()
    assert result.exit_code == 0, result.output
    assert "obsy remote: http://127.0.0.1:" in result.output and "topics obsy/home/#" in result.output


def test_when_formats_iso_times_and_leaves_the_rest():
    from node_remote.web import when

    assert when("2026-03-09T21:30:00.123Z") == "2026-03-09 21:30:00 UTC"
    assert when(None) == "—" and when("") == "—" and when("soon") == "soon" and when(5) == "5"
