"""The master's live publisher without a broker: what it keeps, drops and sends on (re)connect."""
import json
import time
from types import SimpleNamespace

from common import live, names
from common.config import MqttConfig
from common.contracts import (FrameIngested, JobProgress, LiveStackUpdated, MountReport, NodeHeartbeat, RoofState,
                              SafetyState)
from common.events import InProcessEventBus
from master.live import LivePublisher, frame_lookup, start_live_publisher

OK = SimpleNamespace(is_failure=False)
REFUSED = SimpleNamespace(is_failure=True)


class FakeClient:
    """Records publish calls the way paho's client receives them."""

    def __init__(self):
        self.sent = []

    def publish(self, topic, payload, qos, retain):
        self.sent.append((topic, json.loads(payload), qos, retain))
        return SimpleNamespace(rc=0)


def make_publisher(**config):
    publisher = LivePublisher(MqttConfig(host="127.0.0.1", port=1, site="home", **config),
                              frame_lookup=lambda frame_id: {"filter_name": "R", "star_count": 99})
    publisher.client = FakeClient()
    return publisher


def test_disconnected_keeps_latest_retained_and_drops_transient():
    publisher = make_publisher()
    publisher.on_event("observatory.roof1.safety", SafetyState(node="roof1", state="unsafe"))
    publisher.on_event("observatory.roof1.safety", SafetyState(node="roof1", state="safe"))
    latest = publisher.latest()
    assert latest["obsy/home/safety"]["state"] == "safe"  # only the newest per topic
    assert publisher.dropped == 2  # two activity lines
    assert publisher.client.sent == []


def test_connect_sends_online_then_every_latest_retained():
    publisher = make_publisher()
    publisher.on_event("telescope.scope1.job", JobProgress(job_id="j1", node="scope1", state="exposing",
                                                           frame_index=1, frame_total=4))
    publisher.on_event("telescope.scope1.heartbeat", NodeHeartbeat(node="scope1", role="telescope",
                                                                    software_version="0.1.0"))
    publisher._on_connect(publisher.client, None, None, OK, None)
    topics = [(t, q, r) for t, _, q, r in publisher.client.sent]
    assert topics[0] == ("obsy/home/status", 1, True)
    assert publisher.client.sent[0][1]["state"] == "online"
    assert set(topics[1:]) == {("obsy/home/job", 1, True), ("obsy/home/nodes/scope1", 1, True)}
    # Connected: new events go out at once, activity too (QoS 0, not retained).
    publisher.client.sent.clear()
    publisher.on_event("telescope.scope1.job", JobProgress(job_id="j1", node="scope1", state="done"))
    assert [(t, q, r) for t, _, q, r in publisher.client.sent] == [
        ("obsy/home/job", 1, True), ("obsy/home/activity", 0, False)]
    assert publisher.published == 5
    publisher._on_disconnect(publisher.client, None, None, OK, None)
    assert not publisher.connected.is_set()


def test_roof_and_mount_events_become_retained_topics_per_node():
    publisher = make_publisher()
    publisher._on_connect(publisher.client, None, None, OK, None)
    publisher.client.sent.clear()
    publisher.on_event(names.roof_key("roof1"), RoofState(node="roof1", state="opening", activity="opening"))
    publisher.on_event(names.roof_key("roof2"), RoofState(node="roof2", state="error", activity="alarm",
                                                          alarm="mount not parked", alarm_level="critical"))
    publisher.on_event(names.mount_key("scope1"), MountReport(node="scope1", parked=True))
    sent = {t: (p, q, r) for t, p, q, r in publisher.client.sent}
    assert set(sent) == {"obsy/home/roof/roof1", "obsy/home/roof/roof2", "obsy/home/mount/scope1"}
    assert all(q == 1 and r is True for _, q, r in sent.values())
    assert sent["obsy/home/roof/roof1"][0]["state"] == "opening"
    assert sent["obsy/home/roof/roof2"][0]["alarm"] == "mount not parked"
    assert sent["obsy/home/mount/scope1"][0]["state"] == "parked"
    # The publisher follows both event kinds on the bus.
    assert names.ROOF_PATTERN in publisher.EVENT_PATTERNS and names.MOUNT_PATTERN in publisher.EVENT_PATTERNS
    bus = InProcessEventBus()
    publisher.subscribe(bus)
    bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=False))
    bus.drain()
    assert publisher.latest()["obsy/home/mount/scope1"]["state"] == "unparked"
    bus.close()


def test_refused_connection_is_not_connected():
    publisher = make_publisher()
    publisher._on_connect(publisher.client, None, None, REFUSED, None)
    assert not publisher.connected.is_set() and publisher.client.sent == []


def test_home_assistant_discovery_on_connect_and_for_each_new_node():
    publisher = make_publisher(home_assistant=True)
    publisher.on_event("observatory.roof1.roof", RoofState(node="roof1", state="closed"))  # before connecting
    publisher._on_connect(publisher.client, None, None, OK, None)
    sent = {t: (p, q, r) for t, p, q, r in publisher.client.sent}
    config, qos, retain = sent["homeassistant/binary_sensor/obsy_home/safe/config"]
    assert config["state_topic"] == "obsy/home/safety" and (qos, retain) == (1, True)
    assert sent["homeassistant/sensor/obsy_home/roof_roof1/config"][0]["state_topic"] == "obsy/home/roof/roof1"
    publisher.client.sent.clear()
    publisher.on_event("telescope.scope1.mount", MountReport(node="scope1", parked=True))
    publisher.on_event("telescope.scope1.mount", MountReport(node="scope1", parked=False))
    discovery = [t for t, *_ in publisher.client.sent if t.startswith("homeassistant/")]
    assert discovery == ["homeassistant/sensor/obsy_home/mount_scope1/config"]  # once, the site's not again


def test_no_discovery_unless_enabled():
    publisher = make_publisher()
    publisher._on_connect(publisher.client, None, None, OK, None)
    publisher.on_event("observatory.roof1.roof", RoofState(node="roof1", state="closed"))
    assert not [t for t, *_ in publisher.client.sent if t.startswith("homeassistant/")]


def test_frame_event_uses_lookup_and_skips_duplicates():
    publisher = make_publisher()
    event = FrameIngested(sha256="cd" * 32, node="scope1", frame_id=3, key="k", frame_type="light", object_name="M42")
    publisher.on_event(names.FRAME_INGESTED_KEY, event)
    frame = publisher.latest()["obsy/home/frame/latest"]
    assert frame["filter_name"] == "R" and frame["star_count"] == 99 and frame["object_name"] == "M42"
    publisher.on_event(names.FRAME_INGESTED_KEY, event.model_copy(update={"frame_id": 4, "duplicate": True}))
    assert publisher.latest()["obsy/home/frame/latest"]["frame_id"] == 3


def test_live_stack_event_is_a_retained_topic_per_target():
    publisher = make_publisher()
    event = LiveStackUpdated(night="2024-09-01", target="NGC 7000/North", filter_name="Ha", n_frames=7,
                             key="stacks/live/2024-09-01/NGC_7000_North/Ha.fits",
                             preview_key="stacks/live/2024-09-01/NGC_7000_North/Ha.png")
    publisher.on_event(names.LIVE_STACK_KEY, event)
    stack = publisher.latest()["obsy/home/stack/NGC_7000_North"]
    assert stack["n_frames"] == 7 and stack["filter_name"] == "Ha" and stack["target"] == "NGC 7000/North"
    assert stack["view_path"] == "/view/stacks/live/2024-09-01/NGC_7000_North/Ha.fits"
    assert live.parse_live(json.dumps(stack), "stack/NGC_7000_North").n_frames == 7  # the remote node accepts it


def test_failing_lookup_or_client_never_reaches_the_bus(caplog):
    publisher = make_publisher()

    def broken(frame_id):
        raise RuntimeError("database down")

    publisher.frame_lookup = broken
    event = FrameIngested(sha256="cd" * 32, node="scope1", frame_id=3, key="k")
    publisher.on_event(names.FRAME_INGESTED_KEY, event)
    assert publisher.latest()["obsy/home/frame/latest"]["frame_id"] == 3
    publisher._on_connect(publisher.client, None, None, OK, None)
    publisher.client.publish = None  # any failure inside the handler
    publisher.on_event("observatory.roof1.safety", SafetyState(node="roof1", state="safe"))
    assert "could not read frame 3" in caplog.text and "could not handle" in caplog.text


def test_start_without_broker_returns_at_once_and_stops(services):
    assert start_live_publisher(services) is None  # [mqtt] host empty: nothing to do
    services.config.mqtt.host, services.config.mqtt.port = "127.0.0.1", 1  # nothing listens on port 1
    services._bus = InProcessEventBus()
    began = time.monotonic()
    publisher = start_live_publisher(services)
    services.bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="safe"))
    services.bus.drain()
    assert time.monotonic() - began < 5  # a blocking connect would hang here much longer
    assert publisher.latest()["obsy/home/safety"]["state"] == "safe"
    assert not publisher.connected.is_set()
    publisher.stop()


def test_frame_lookup_reads_the_row(services):
    from master.models import Frame

    with services.sessions() as session:
        session.add(Frame(id=5, sha256="ef" * 32, key="k", size=1, frame_type="light", filter_name="Ha",
                          exposure_s=600.0, target_name="NGC 7000", star_count=10, hfr_px=1.9, accepted=True))
        session.commit()
    lookup = frame_lookup(services.sessions)
    details = lookup(5)
    assert details["filter_name"] == "Ha" and details["object_name"] == "NGC 7000"
    assert details["has_preview"] is False
    assert lookup(6) is None
