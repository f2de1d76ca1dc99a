"""The roof interlock against real INDI simulators on a test-owned indiserver.

The roll-off roof (``indi_rolloff_dome``) starts open and the telescope simulator unparked. Rain
is injected into ``indi_simulator_weather`` (WEATHER_CONTROL, then WEATHER_REFRESH) and read by the
real safety monitor through its INDI weather source; its verdict goes on the event bus.
A stand-in for the telescope node (the real INDI backend, doing what ``TelescopeNode.on_safety``
and its heartbeat loop do) parks the mount and reports it; the roof controller reads the mount
directly over INDI and through those reports. A separate INDI client records the order in which
the properties change: the roof's DOME_PARK must start moving only after TELESCOPE_PARK is parked.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import pytest

from common import names
from common.config import load_config
from common.contracts import MountReport, RoofState, SafetyState
from common.events import InProcessEventBus
from common.indi import IndiClient
from node_observatory.publish import SafetyPublisher
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.controller import RoofController, RoofSettings
from node_observatory.roof.indi import IndiRoof, RoofClient
from node_observatory.roof.park import BusParkSource, IndiParkSource
from node_observatory.safety.factory import build_monitor
from node_telescope.backends import make_backend
from tests.servers import IndiServer

ROOF, MOUNT, WEATHER = "RollOff Simulator", "Telescope Simulator", "Weather Simulator"
pytestmark = pytest.mark.timeout(180)


class Recorder(IndiClient):
    """Every update of the two properties we care about, in the order the server sent them."""

    def __init__(self, host, port):
        super().__init__(host, port)
        self.log: list[tuple[float, str, str, dict]] = []

    def _snapshot(self, prop):
        super()._snapshot(prop)
        if prop.getName() in ("DOME_PARK", "TELESCOPE_PARK"):
            snap = self.get(prop.getDeviceName(), prop.getName())
            if snap is not None:
                self.log.append((time.monotonic(), snap.name, snap.state, dict(snap.values)))


@pytest.fixture(scope="module")
def server():
    # the telescope backend also wants a camera
    s = IndiServer(drivers=["indi_rolloff_dome", "indi_simulator_telescope", "indi_simulator_ccd",
                            "indi_simulator_weather"])
    s.start()
    yield s
    s.stop()


def _connect(client, device):
    client.wait_property(device, "CONNECTION", 10)
    if not client.value(device, "CONNECTION", "CONNECT"):
        client.send_switch(device, "CONNECTION", ["CONNECT"])
    client.wait_for(lambda: client.value(device, "CONNECTION", "CONNECT")
                    and client.get(device, "CONNECTION").state == "Ok", 10, f"{device} connected")


def test_rain_parks_the_mount_then_closes_the_roof(server, tmp_path):
    recorder = Recorder("127.0.0.1", server.port)
    recorder.open(10)
    client = RoofClient("127.0.0.1", server.port)
    client.open(10)
    bus = InProcessEventBus()
    backend = make_backend(load_config("telescope", backend="indi", node={"name": "scope1"},
                                       indi={"port": server.port, "mount": MOUNT, "connect_timeout_s": 10,
                                             "park_timeout_s": 60}))
    stop = threading.Event()
    threads = []
    monitor = None
    try:
        for device in (ROOF, MOUNT, WEATHER):
            _connect(client, device)
        client.wait_property(WEATHER, "WEATHER_CONTROL", 10)
        roof = IndiRoof(client, ROOF)
        roof.connect()
        # The roof simulator starts open (unparked) without park data; make sure it is.
        if roof.status().state is not RoofPosition.OPEN:
            client.send_switch(ROOF, "DOME_PARK", ["UNPARK"])
            client.wait_for(lambda: roof._position()[0] is RoofPosition.OPEN, 30, "roof open")
        # The mount: unparked, and its park position set to where it points now (PARK_CURRENT),
        # so that the park takes a second or two instead of the ~25 s slew from a slewed position.
        client.wait_property(MOUNT, "TELESCOPE_PARK", 10)
        if client.value(MOUNT, "TELESCOPE_PARK", "PARK"):
            client.send_switch(MOUNT, "TELESCOPE_PARK", ["UNPARK"])
            client.wait_for(lambda: client.value(MOUNT, "TELESCOPE_PARK", "UNPARK")
                            and client.get(MOUNT, "TELESCOPE_PARK").state == "Ok", 30, "mount unparked")
        option = client.wait_property(MOUNT, "TELESCOPE_PARK_OPTION", 10).serial
        client.send_switch(MOUNT, "TELESCOPE_PARK_OPTION", ["PARK_CURRENT"])
        client.wait_for(lambda: client.newer(MOUNT, "TELESCOPE_PARK_OPTION", option), 10, "park position set")
        backend.connect()
        assert not backend.is_parked()

        # The telescope node stand-in: parks on a non-safe verdict, reports its mount every 0.5 s.
        parking = threading.Lock()

        def park_once():
            with parking:
                if not backend.is_parked():
                    backend.park()

        def on_safety(key, message):
            # As TelescopeNode.stop_and_park: one park at a time, however often the verdict repeats.
            if isinstance(message, SafetyState) and message.state != "safe" and not parking.locked():
                threading.Thread(target=park_once, daemon=True).start()

        def report():
            while not stop.wait(0.5):
                try:
                    parked = backend.is_parked()
                    bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=parked))
                except Exception as exc:
                    bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=None, reason=str(exc)))

        bus.subscribe([names.SAFETY_PATTERN], on_safety)
        node_source = BusParkSource("scope1")
        node_source.subscribe(bus)
        roof_events: list[RoofState] = []
        bus.subscribe([names.ROOF_PATTERN], lambda key, message: roof_events.append(message))

        commands: list[tuple[float, str, object]] = []
        for name in ("open", "close"):
            original = getattr(roof, name)

            def guarded(original=original, name=name):
                commands.append((time.monotonic(), name, dict(recorder.get(MOUNT, "TELESCOPE_PARK").values)))
                original()
            setattr(roof, name, guarded)

        controller = RoofController(
            "roof1", roof, [IndiParkSource(client, MOUNT), node_source],
            request_park=lambda: None,  # the SafetyState on the bus makes the telescope node park
            settings=RoofSettings(park_max_age_s=5, park_timeout_s=60, motion_timeout_s=40, min_safe_s=0,
                                  safety_max_age_s=10),
            publish=lambda message: bus.publish(names.roof_key("roof1"), message),
            state_path=tmp_path / "roof.json")
        bus.subscribe([names.safety_key("roof1")], controller.on_safety_event)

        config = load_config("observatory", node={"name": "roof1"}, safety={
            "min_safe_minutes": 0, "sources": [{"name": "wx", "type": "indi_weather", "indi_port": server.port,
                                                "device": WEATHER, "cadence_s": 0.5, "max_age_s": 30}]})
        monitor = build_monitor(config, hold_at_start=False)
        deadline = time.monotonic() + 20
        while monitor.step(datetime.now(timezone.utc)).state.value != "safe":  # the weather device connected
            assert time.monotonic() < deadline, "the INDI weather source never read fine weather"
            time.sleep(0.3)
        publisher = SafetyPublisher(bus, "roof1", every_s=1.0)

        def run():
            while not stop.wait(0.3):
                publisher(monitor.step(datetime.now(timezone.utc)))
                controller.step()

        assert controller.recover().state is RoofPosition.OPEN
        for target in (report, run):
            threads.append(threading.Thread(target=target, daemon=True))
            threads[-1].start()
        time.sleep(2)
        assert roof.status().state is RoofPosition.OPEN and commands == []  # safe: nothing moves

        rain_at = time.monotonic()
        client.send_numbers(WEATHER, "WEATHER_CONTROL", {"Precip": 5.0})
        client.send_switch(WEATHER, "WEATHER_REFRESH", ["REFRESH"])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (controller.status.state is RoofPosition.CLOSED
                                                   and controller.activity == "idle"):
            time.sleep(0.3)
        assert roof.status().state is RoofPosition.CLOSED, (roof.status(), controller.alarms)
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        bus.drain()
        assert backend.is_parked()

        # Order of what the devices did, as a third client saw it
        parked_at = next(t for t, name, state, values in recorder.log
                         if name == "TELESCOPE_PARK" and values.get("PARK") and state == "Ok" and t > rain_at)
        roof_moved_at = next(t for t, name, state, values in recorder.log
                             if name == "DOME_PARK" and values.get("PARK") and state == "Busy")
        assert parked_at < roof_moved_at
        assert [name for _, name, _ in commands] == ["close"]
        assert commands[0][0] > parked_at and commands[0][2].get("PARK") is True
        states = [e.state for e in roof_events]
        assert states[0] == "open" and states[-1] == "closed" and "closing" in states
        assert "opening" not in states
        assert json.loads((tmp_path / "roof.json").read_text())["state"] == "closed"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for slot in (monitor.slots if monitor is not None else []):
            link = getattr(slot.source, "client", None)  # the INDI weather source's own link
            if link is not None:
                link.close()
        backend.close()
        client.close()
        recorder.close()
        bus.close()


def test_the_node_factory_connects_the_indi_roof_and_mount(server, tmp_path):
    from node_observatory.roof.factory import build_roof_controller

    config = load_config("observatory", roof={"kind": "indi", "indi_port": server.port, "device": ROOF,
                                              "mount_device": MOUNT, "state_file": str(tmp_path / "roof.json")})
    bus = InProcessEventBus()
    controller = build_roof_controller(config, bus)
    try:
        assert controller.recover().state in (RoofPosition.OPEN, RoofPosition.CLOSED)
        direct, reports = controller.park_sources
        reading = direct.read()
        assert reading.time is not None and reading.parked is not None
        assert reports.read().time is None  # no telescope node here: not parked, as far as the roof knows
        assert controller.interlock()[0] is False
    finally:
        controller.roof.client.close()
        bus.close()
