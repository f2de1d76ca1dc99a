"""Home Assistant MQTT discovery on the real, test-owned Mosquitto: a subscriber (standing in for
Home Assistant) receives valid retained configs, and the state topics they name carry payloads
their templates read (rendered with Jinja2, the template language Home Assistant uses)."""
from __future__ import annotations

import itertools
import json
import re

import jinja2
import paho.mqtt.client as mqtt
import pytest

from common.config import MqttConfig
from common.contracts import FrameIngested, JobProgress, MountReport, RoofState, SafetyState
from master.live import LivePublisher
from tests.integration.helpers import wait_for

_sites = itertools.count(1)
TOPIC = re.compile(r"homeassistant/(binary_sensor|sensor)/obsy_(?P<site>[A-Za-z0-9_-]+)/(?P<object>[A-Za-z0-9_-]+)/config")
REQUIRED = ("name", "unique_id", "state_topic", "value_template", "device", "availability_topic",
            "availability_template", "payload_available", "payload_not_available")


class Retained:
    """Everything a fresh subscriber gets for some topic filters: topic -> last payload."""

    def __init__(self, mosquitto, *filters):
        self.seen: dict[str, bytes] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, qos=1) for t in filters]
        self.client.on_message = self._on_message
        self.client.connect(mosquitto.host, mosquitto.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message):
        self.seen[message.topic] = message.payload

    def complete(self, n_configs: int) -> bool:
        """n_configs configs here, and every topic they name."""
        configs = [json.loads(raw) for name, raw in dict(self.seen).items() if TOPIC.fullmatch(name)]
        named = {c[key] for c in configs for key in ("state_topic", "availability_topic", "json_attributes_topic")
                 if key in c}
        return len(configs) == n_configs and named <= set(self.seen)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def render(template: str, payload: bytes) -> str:
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload), value=payload.decode())


@pytest.fixture
def publisher(mosquitto):
    site = f"ha{next(_sites)}"
    config = MqttConfig(host=mosquitto.host, port=mosquitto.port, site=site, reconnect_max_s=1.0, home_assistant=True)
    publisher = LivePublisher(config, client_id=f"test-ha-{site}",
                              frame_lookup=lambda frame_id: {"filter_name": "Ha", "exposure_s": 300.0})
    publisher.start()
    assert publisher.connected.wait(10)
    yield publisher
    publisher.stop()


def test_home_assistant_finds_configs_whose_templates_read_our_topics(mosquitto, publisher):
    site = publisher.site
    for key, event in (("observatory.roof1.safety", SafetyState(node="roof1", state="safe")),
                       ("observatory.roof1.roof", RoofState(node="roof1", state="open")),
                       ("telescope.scope1.mount", MountReport(node="scope1", parked=False)),
                       ("telescope.scope1.job", JobProgress(job_id="j1", node="scope1", state="exposing",
                                                            target="M 42", frame_index=3, frame_total=10)),
                       ("master.frame.ingested", FrameIngested(sha256="ab" * 32, node="scope1", frame_id=7, key="k",
                                                               frame_type="light", object_name="M 42"))):
        publisher.on_event(key, event)
    expected = {"safe": "ON", "safety": "safe", "roof_roof1": "open", "mount_scope1": "unparked",
                "job": "exposing", "last_frame": "M 42"}
    ha = Retained(mosquitto, f"homeassistant/+/obsy_{site}/+/config", f"obsy/{site}/#")
    try:
        wait_for(lambda: ha.complete(len(expected)), 5, "discovery configs and the topics they name")
    finally:
        ha.close()

    unique_ids, rendered = set(), {}
    for name, raw in ha.seen.items():
        match = TOPIC.fullmatch(name)
        if not match:
            continue
        config = json.loads(raw)
        assert match["site"] == site and all(key in config for key in REQUIRED), (name, config)
        assert config["device"]["identifiers"] == [f"obsy_{site}"]
        unique_ids.add(config["unique_id"])
        state = ha.seen[config["state_topic"]]  # the topic it names is there, retained
        value = render(config["value_template"], state)
        if name.startswith("homeassistant/binary_sensor/"):
            assert value in ("ON", "OFF")  # Home Assistant's default payload_on / payload_off
        if config.get("device_class") == "enum":
            assert value in config["options"]
        if "json_attributes_topic" in config:
            assert isinstance(json.loads(ha.seen[config["json_attributes_topic"]]), dict)
        assert render(config["availability_template"], ha.seen[config["availability_topic"]]) == \
            config["payload_available"]
        rendered[match["object"]] = value
    assert rendered == expected
    assert len(unique_ids) == len(expected)
