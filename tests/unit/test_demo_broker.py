"""``obsy demo``'s private Mosquitto: started when installed, a clear line when it is not."""
from __future__ import annotations

import pytest

from common import demo, mosquitto
from common.embedded import EmbeddedContext
from node_remote import embedded as remote_embedded


def context(tmp_path) -> EmbeddedContext:
    return EmbeddedContext(data_dir=tmp_path, broker=None, bus=None, store=None)


def test_without_mosquitto_the_demo_says_so_and_starts_no_public_site(tmp_path, monkeypatch):
    monkeypatch.setattr(mosquitto, "find_mosquitto", lambda: None)
    ctx = context(tmp_path)
    demo.start_broker(ctx)
    remote_embedded.start(ctx)
    assert ctx.mqtt_port is None and ctx.stoppers == []
    assert ctx.announcements == ["Live MQTT and the public site: off (install mosquitto to see them)"]


def test_the_private_broker_answers_and_stops(tmp_path):
    ctx = context(tmp_path)
    demo.start_broker(ctx)
    broker_stop = ctx.stoppers[0]
    assert ctx.mqtt_port and "listener" in (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
    probe = mosquitto.PrivateMosquitto(tmp_path, "/bin/true")
    probe.port = ctx.mqtt_port
    assert probe._answers()
    broker_stop()
    assert not probe._answers()


def test_a_broker_that_exits_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match="mosquitto exited with code 1"):
        mosquitto.PrivateMosquitto(tmp_path, "/bin/false").start()
