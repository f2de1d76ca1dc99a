"""Live topics and payloads (common.live): names, QoS/retention, builders, validation."""
import json
import re
from datetime import datetime, timezone

import pytest

from common import live
from common.config import ConfigError, MqttConfig, load_config
from common.contracts import (FrameIngested, InvalidMessage, JobProgress, MountReport, NodeHeartbeat, RoofState,
                              SafetyState)

SHA = "ab" * 32
WHEN = datetime(2026, 3, 9, 21, 30, tzinfo=timezone.utc)


def test_topic_names_per_site():
    assert live.topic("obsy", "home", live.SAFETY) == "obsy/home/safety"
    assert live.topic("obsy", "home", live.FRAME) == "obsy/home/frame/latest"
    assert live.topic("obsy", "home", live.NODE, "scope1") == "obsy/home/nodes/scope1"
    assert live.site_filter("obsy", "home") == "obsy/home/#"
    with pytest.raises(ValueError, match="needs a node name"):
        live.topic("obsy", "home", live.NODE)
    with pytest.raises(ValueError, match="without"):
        live.topic("obsy", "home", live.NODE, "a/b")
    with pytest.raises(ValueError, match="takes no node"):
        live.topic("obsy", "home", live.SAFETY, "roof1")


def test_state_topics_are_retained_qos1_and_activity_is_transient():
    for spec in live.TOPICS:
        if spec is live.ACTIVITY:
            assert (spec.qos, spec.retain) == (0, False)
        else:
            assert (spec.qos, spec.retain) == (1, True), spec.leaf
    # The table in the module docstring names every leaf.
    for spec in live.TOPICS:
        assert spec.leaf.replace("/+", "/<target>" if spec is live.STACK else "/<node>") in live.__doc__


@pytest.mark.parametrize("leaf, expected", [
    ("safety", live.SAFETY), ("frame/latest", live.FRAME), ("nodes/scope1", live.NODE),
    ("roof/roof1", live.ROOF), ("mount/scope1", live.MOUNT), ("roof", None), ("mount/a/b", None),
    ("nodes/", None), ("nodes/a/b", None), ("frame", None), ("bogus", None),
])
def test_spec_for_leaf(leaf, expected):
    assert live.spec_for_leaf(leaf) is expected


def test_leaf_of_strips_prefix_and_site_only():
    assert live.leaf_of("obsy", "home", "obsy/home/nodes/scope1") == "nodes/scope1"
    assert live.leaf_of("obsy", "home", "obsy/other/safety") is None
    assert live.leaf_of("obsy", "home", "obsy/home/") is None


def test_safety_and_job_payloads():
    safety = live.safety_payload(SafetyState(node="roof1", state="unsafe", reasons=["rain"], sent_at=WHEN))
    assert safety.to_wire() == {"schema": "obsy.live.safety", "version": 1, "at": "2026-03-09T21:30:00Z",
                                "node": "roof1", "state": "unsafe", "reasons": ["rain"]}
    job = live.job_payload(JobProgress(job_id="j1", node="scope1", state="frame", target="M31", filter_name="L",
                                       frame_index=3, frame_total=12))
    assert job.progress == 0.25 and job.target == "M31" and job.schema_ == "obsy.live.job"
    assert live.job_payload(JobProgress(job_id="j1", node="scope1", state="done")).progress == 1.0
    assert live.job_payload(JobProgress(job_id="j1", node="scope1", state="started")).progress is None


def test_roof_and_mount_payloads_per_node():
    assert live.topic("obsy", "home", live.ROOF, "roof1") == "obsy/home/roof/roof1"
    assert live.topic("obsy", "home", live.MOUNT, "scope1") == "obsy/home/mount/scope1"
    roof = live.roof_payload(RoofState(node="roof1", state="error", since=WHEN, activity="alarm",
                                       alarm="park failed " + "x" * 400, alarm_level="critical",
                                       mount_parked={"indi": False}, sent_at=WHEN))
    wire = roof.to_wire()
    assert (wire["node"], wire["state"], wire["activity"], wire["alarm_level"]) == ("roof1", "error", "alarm",
                                                                                    "critical")
    assert wire["alarm"].startswith("park failed") and len(wire["alarm"]) == 300
    assert wire["since"] == "2026-03-09T21:30:00Z" and "mount_parked" not in wire
    assert live.parse_live(roof.to_json(), "roof/roof1") == roof
    mounts = [live.mount_payload(MountReport(node="scope1", parked=value)) for value in (True, False, None)]
    assert [(m.state, m.parked) for m in mounts] == [("parked", True), ("unparked", False), ("unknown", None)]
    with pytest.raises(InvalidMessage, match="does not carry"):
        live.parse_live(mounts[0].to_json(), "roof/scope1")


def test_frame_payload_merges_database_details():
    event = FrameIngested(sha256=SHA, node="scope1", frame_id=7, key="k", frame_type="light", object_name="M 31")
    bare = live.frame_payload(event)
    assert bare.object_name == "M 31" and bare.star_count is None
    assert bare.preview_path == "/frames/7/preview.png" and bare.frame_path == "/api/v1/frames/7"
    full = live.frame_payload(event, {"filter_name": "Ha", "exposure_s": 300.0, "date_obs": WHEN, "star_count": 412,
                                      "hfr_px": 2.3, "accepted": True, "object_name": None, "has_preview": False,
                                      "secret": "ignored"})
    wire = full.to_wire()
    assert wire["filter_name"] == "Ha" and wire["exposure_s"] == 300.0 and wire["star_count"] == 412
    assert wire["date_obs"] == "2026-03-09T21:30:00Z" and wire["hfr_px"] == 2.3
    assert wire["object_name"] == "M 31"  # a missing detail keeps the event's value
    assert wire["preview_path"] is None and "secret" not in wire
    assert len(json.dumps(wire)) < 1000


def test_node_payload_and_activity_lines():
    beat = NodeHeartbeat(node="scope1", role="telescope", software_version="0.1.0", state="x" * 500,
                         spool_backlog=3)
    node = live.node_payload(beat)
    assert len(node.state) == 200 and node.spool_backlog == 3 and node.role == "telescope"
    assert live.activity_text(beat) is None
    assert live.activity_text(JobProgress(job_id="j1", node="scope1", state="failed", reason="clouds")) \
        == "scope1: job j1 failed: clouds"
    assert live.activity_text(JobProgress(job_id="j1", node="scope1", state="slewing", target="M31")) \
        == "scope1: slewing to M31"
    assert live.activity_text(JobProgress(job_id="j1", node="scope1", state="exposing")) is None
    assert live.activity_text(SafetyState(node="roof1", state="safe")) == "roof1: sky safe"
    event = FrameIngested(sha256=SHA, node="scope1", frame_id=7, key="k", frame_type="light", object_name="M 31")
    assert live.activity_text(event) == "scope1: light frame M 31 ingested"
    assert live.activity_text(event.model_copy(update={"duplicate": True})) is None


def test_parse_live_round_trip_and_rejections():
    payload = live.LiveStatus(state="online")
    assert live.parse_live(payload.to_json(), "status") == payload
    assert isinstance(live.parse_live(live.node_payload(NodeHeartbeat(
        node="scope1", role="telescope", software_version="1")).to_json().encode(), "nodes/scope1"), live.LiveNode)
    cases = [
        (b"\xff", None, "not JSON"),
        ("[1]", None, "JSON object"),
        ('{"schema": "obsy.live.nope", "version": 1}', None, "unknown live schema"),
        ('{"schema": "obsy.live.status", "version": 1, "state": "online"}', "safety", "does not carry"),
        ('{"schema": "obsy.live.status", "version": 9, "state": "online"}', "status", "version 9"),
        ('{"schema": "obsy.live.status", "version": 1, "state": "maybe"}', "status", "invalid obsy.live.status"),
    ]
    for raw, leaf, reason in cases:
        with pytest.raises(InvalidMessage, match=reason):
            live.parse_live(raw, leaf)


def test_home_assistant_discovery_configs():
    from common import home_assistant as ha

    entities = ha.site_entities("obsy", "home") + ha.node_entities("obsy", "home", roofs={"roof1"}, mounts={"scope1"})
    configs = dict(ha.discovery_configs("obsy", "home", entities))
    safe = configs["homeassistant/binary_sensor/obsy_home/safe/config"]
    assert safe["state_topic"] == "obsy/home/safety" and safe["unique_id"] == "obsy_home_safe"
    assert safe["availability_topic"] == "obsy/home/status"
    assert "device_class" not in safe  # HA's "safety" class would read ON as unsafe
    assert "homeassistant/sensor/obsy_home/job/config" in configs
    roof = configs["homeassistant/sensor/obsy_home/roof_roof1/config"]
    assert roof["state_topic"] == "obsy/home/roof/roof1" and "closing" in roof["options"]
    assert configs["homeassistant/sensor/obsy_home/mount_scope1/config"]["options"] == ["parked", "unparked", "unknown"]
    assert all(re.fullmatch(r"homeassistant/(binary_sensor|sensor)/obsy_home/[a-z0-9_-]+/config", t) for t in configs)
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)


def test_mqtt_config_validates_topic_levels(tmp_path):
    assert MqttConfig().host == "" and MqttConfig().topic_prefix == "obsy"
    path = tmp_path / "master.toml"
    path.write_text('[mqtt]\nhost = "broker"\nsite = "my/site"\n')
    with pytest.raises(ConfigError, match="mqtt.site = 'my/site'"):
        load_config("master", path)
    remote = load_config("remote", None, web={"port": 0})
    assert remote.mqtt.host == "127.0.0.1" and remote.web.port == 0


def test_make_mqtt_client_applies_credentials_and_tls():
    config = MqttConfig(host="broker", username="obsy", password="pw", tls=True)
    client = live.make_mqtt_client(config, "obsy-test")
    assert client.username == "obsy" and client.password == "pw"
    assert client._ssl  # paho keeps the TLS context privately; no public accessor


def test_remote_example_config_round_trips(tmp_path):
    from common.config_example import example

    path = tmp_path / "remote.toml"
    path.write_text(example("remote"))
    assert load_config("remote", path).model_dump() == load_config("remote").model_dump()
    path.write_text('[mqtt]\nhost = ""\n')
    with pytest.raises(ConfigError, match="mqtt.host = ''"):
        load_config("remote", path)
