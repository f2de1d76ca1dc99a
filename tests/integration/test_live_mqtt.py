"""Live updates end to end on the real, test-owned Mosquitto:
event bus -> master publisher -> Mosquitto -> remote node -> /api/state and Server-Sent Events."""
from __future__ import annotations

import itertools
import json
import queue
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from common import names
from common.config import MqttConfig, RemoteConfig
from common.contracts import FrameIngested, JobProgress, MountReport, NodeHeartbeat, RoofState, SafetyState
from common.events import InProcessEventBus
from master.live import LivePublisher
from node_remote.server import RemoteNode
from tests.integration.helpers import wait_for

_sites = itertools.count(1)


@pytest.fixture
def site():
    # A site per test: retained topics of one test never reach another.
    return f"site{next(_sites)}"


def mqtt_config(mosquitto, site) -> MqttConfig:
    return MqttConfig(host=mosquitto.host, port=mosquitto.port,
                      site=site, reconnect_max_s=1.0)


@pytest.fixture
def bus():
    bus = InProcessEventBus()
    yield bus
    bus.close()


@pytest.fixture
def publisher(mosquitto, site, bus):
    publisher = LivePublisher(mqtt_config(mosquitto, site), client_id=f"test-master-{site}",
                              frame_lookup=lambda frame_id: {"filter_name": "Ha", "exposure_s": 300.0,
                                                             "star_count": 321, "hfr_px": 2.1})
    publisher.subscribe(bus)
    publisher.start()
    yield publisher
    publisher.stop()


@pytest.fixture
def start_remote(mosquitto, site):
    nodes = []

    def start() -> RemoteNode:
        config = RemoteConfig(mqtt=mqtt_config(mosquitto, site).model_dump(), web={"port": 0})
        node = RemoteNode(config, client_id=f"test-remote-{site}-{len(nodes)}", keepalive_s=0.2).start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def api_state(node) -> dict:
    return requests.get(f"{node.url}/api/state", timeout=5).json()


def topic_value(node, leaf, key):
    return api_state(node)["topics"].get(leaf, {}).get(key)


class SseClient:
    """Reads ``/events`` on its own thread (plain HTTP/1.0 over a socket); parsed events arrive on
    a queue. Only the reader thread closes the socket: ``close()`` shuts it down, which ends the
    read at once, so the descriptor is never closed under a blocked read."""

    def __init__(self, url: str):
        self.events: queue.Queue = queue.Queue()
        self.closed = False
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.sock.sendall(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline().decode()
        assert " 200 " in status, status
        headers = {}
        while (line := self.file.readline().decode().strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        kind, data = None, []
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and kind:
                    self.events.put((kind, json.loads("\n".join(data))))
                    kind, data = None, []
        except OSError as exc:
            if not self.closed:
                self.events.put(("error", {"error": repr(exc)}))
        finally:
            self.file.close()
            self.sock.close()

    def wait(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching SSE event within {timeout}s")
            try:
                kind, data = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(kind, data):
                return data

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the server closed it first
        self.thread.join(timeout=5)


def test_events_reach_the_remote_api_and_sse_within_a_second(publisher, start_remote, bus):
    node = start_remote()
    wait_for(lambda: publisher.connected.is_set() and api_state(node)["connection"]["connected"], 10,
             "both ends connected")
    bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="safe"))
    bus.publish(names.heartbeat_key("telescope", "scope1"),
                NodeHeartbeat(node="scope1", role="telescope", software_version="0.1.0", state="imaging"))
    bus.publish(names.FRAME_INGESTED_KEY, FrameIngested(sha256="ab" * 32, node="scope1", frame_id=42, key="k",
                                                        frame_type="light", object_name="M 31"))
    wait_for(lambda: topic_value(node, "frame/latest", "frame_id") == 42, 5, "the frame on /api/state")
    state = api_state(node)
    assert state["topics"]["safety"]["state"] == "safe"
    assert state["topics"]["nodes/scope1"]["state"] == "imaging"
    frame = state["topics"]["frame/latest"]
    assert (frame["object_name"], frame["filter_name"], frame["star_count"]) == ("M 31", "Ha", 321)
    assert frame["preview_path"] == "/frames/42/preview.png"
    assert state["topics"]["status"]["state"] == "online"

    sse = SseClient(f"{node.url}/events")
    try:
        first = sse.wait(lambda kind, data: kind == "state", 5)
        assert first["topics"]["safety"]["state"] == "safe"
        sent = time.monotonic()
        bus.publish(names.job_progress_key("scope1"), JobProgress(job_id="j7", node="scope1", state="exposing",
                                                                  target="M 31", frame_index=3, frame_total=6))
        change = sse.wait(lambda kind, data: kind == "topic" and data["leaf"] == "job", 1.0)
        assert time.monotonic() - sent < 1.0
        assert change["payload"]["progress"] == 0.5 and change["payload"]["target"] == "M 31"
    finally:
        sse.close()


def test_roof_and_mount_reach_sse_and_stay_retained(publisher, start_remote, bus):
    node = start_remote()
    wait_for(lambda: publisher.connected.is_set() and api_state(node)["connection"]["connected"], 10,
             "both ends connected")
    sse = SseClient(f"{node.url}/events")
    try:
        sse.wait(lambda kind, data: kind == "state", 5)
        bus.publish(names.roof_key("roof1"), RoofState(node="roof1", state="closing", activity="closing"))
        roof = sse.wait(lambda kind, data: kind == "topic" and data["leaf"] == "roof/roof1", 1.0)["payload"]
        assert (roof["state"], roof["activity"]) == ("closing", "closing")
        bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=True))
        mount = sse.wait(lambda kind, data: kind == "topic" and data["leaf"] == "mount/scope1", 1.0)["payload"]
        assert mount["state"] == "parked" and mount["parked"] is True
    finally:
        sse.close()
    time.sleep(0.3)  # QoS 1: let Mosquitto take the messages before the late node subscribes
    late = start_remote()
    wait_for(lambda: topic_value(late, "mount/scope1", "state") == "parked", 5, "retained mount on a late node")
    assert topic_value(late, "roof/roof1", "state") == "closing"


def test_retained_topics_reach_a_remote_node_started_later(publisher, start_remote, bus):
    bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="unsafe", reasons=["rain"]))
    bus.publish(names.job_progress_key("scope1"), JobProgress(job_id="j1", node="scope1", state="started"))
    bus.drain()
    wait_for(lambda: publisher.connected.is_set(), 10, "the publisher connected")
    time.sleep(0.3)  # QoS 1: let Mosquitto take the messages before anyone subscribes
    node = start_remote()
    wait_for(lambda: topic_value(node, "job", "job_id") == "j1", 5, "retained job on a late remote node")
    assert topic_value(node, "safety", "reasons") == ["rain"]
    assert api_state(node)["activity"] == []  # transient: not retained, so a late node has none


def test_broker_restart_remote_shows_loss_then_reconnects(mosquitto, publisher, start_remote, bus):
    node = start_remote()
    wait_for(lambda: publisher.connected.is_set() and api_state(node)["connection"]["connected"], 10,
             "both ends connected")
    bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="safe"))
    wait_for(lambda: topic_value(node, "safety", "state") == "safe", 5, "first update")
    sse = SseClient(f"{node.url}/events")
    try:
        sse.wait(lambda kind, data: kind == "state", 5)
        mosquitto.stop()
        lost = sse.wait(lambda kind, data: kind == "connection", 5)["connection"]
        assert lost["connected"] is False and lost["lost_since"]
        page = requests.get(node.url, timeout=5).text
        assert "connection lost since" in page
        assert topic_value(node, "safety", "state") == "safe"  # the last values stay on show

        # The bus never waits on the broker: events during the outage are handled at once.
        began = time.monotonic()
        bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="unsafe", reasons=["wind"]))
        bus.drain()
        assert time.monotonic() - began < 1.0
        assert publisher.latest()[f"obsy/{publisher.site}/safety"]["state"] == "unsafe"

        mosquitto.start()  # fresh and empty (no persistence): the publisher must repopulate it
        sse.wait(lambda kind, data: kind == "connection" and data["connection"]["connected"], 15)
        wait_for(lambda: topic_value(node, "safety", "state") == "unsafe", 10, "the state kept during the outage")
        bus.publish(names.job_progress_key("scope1"), JobProgress(job_id="j9", node="scope1", state="slewing",
                                                                  target="M 42"))
        sse.wait(lambda kind, data: kind == "topic" and data["leaf"] == "job" and data["payload"]["job_id"] == "j9",
                 5)
    finally:
        sse.close()
    assert api_state(node)["connection"]["connected"] is True


def test_broker_down_at_start_neither_end_blocks(mosquitto, site, bus, start_remote):
    mosquitto.stop()
    began = time.monotonic()
    publisher = LivePublisher(mqtt_config(mosquitto, site), client_id=f"test-late-{site}")
    publisher.subscribe(bus)
    publisher.start()
    node = start_remote()
    try:
        assert time.monotonic() - began < 2
        bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="safe"))
        bus.drain()
        state = api_state(node)
        assert state["connection"]["connected"] is False and state["connection"]["ever_connected"] is False
        mosquitto.start()
        wait_for(lambda: topic_value(node, "safety", "state") == "safe", 15, "the update after the broker came up")
    finally:
        publisher.stop()
