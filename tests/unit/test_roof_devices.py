"""Park sources, the INDI roof's reading of its property, the simulator, and the new contracts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from common import names
from common.contracts import InvalidMessage, MountReport, RoofState, parse_message
from common.events import InProcessEventBus
from common.indi import PropertySnapshot
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.indi import IndiRoof
from node_observatory.roof.park import BusParkSource, IndiParkSource, ParkReading
from node_observatory.roof.simulator import SimulatedMount, SimulatedRoof

T0 = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)


def test_a_reading_confirms_parked_only_when_fresh_and_definite():
    assert ParkReading("a", True, T0).confirms_parked(T0 + timedelta(seconds=10), 30) == (True, "")
    for reading, now, word in [
        (ParkReading("a", True, T0), T0 + timedelta(seconds=31), "old"),
        (ParkReading("a", True, None), T0, "no report"),
        (ParkReading("a", None, T0), T0, "unknown"),
        (ParkReading("a", False, T0), T0, "not parked"),
        (ParkReading("a", True, T0 + timedelta(seconds=60)), T0, "future"),
    ]:
        ok, why = reading.confirms_parked(now, 30)
        assert not ok and word in why


def test_bus_park_source_follows_the_telescope_nodes_reports():
    bus = InProcessEventBus()
    try:
        source = BusParkSource("scope1")
        source.subscribe(bus)
        assert source.read().time is None
        bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=True, sent_at=T0))
        bus.publish(names.mount_key("scope2"), MountReport(node="scope2", parked=False, sent_at=T0))
        bus.drain()
        assert (source.read().parked, source.read().time) == (True, T0)
        # an older report arriving late does not win
        bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=False,
                                                           sent_at=T0 - timedelta(seconds=5)))
        bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=None, reason="no mount",
                                                           sent_at=T0 + timedelta(seconds=5)))
        bus.drain()
        assert source.read().parked is None and source.read().reason == "no mount"
    finally:
        bus.close()


class FakeClient:
    def __init__(self):
        self.connected = True
        self.props: dict = {}
        self.sent: list = []
        self.serial = 0

    def put(self, device, name, state, **values):
        self.serial += 1
        self.props[(device, name)] = PropertySnapshot(device, name, "switch", state, values, {}, self.serial)

    def get(self, device, name):
        return self.props.get((device, name))

    def value(self, device, name, element, default=None):
        snap = self.get(device, name)
        return snap.values.get(element, default) if snap else default

    def send_switch(self, device, name, on, exclusive=True):
        self.sent.append((device, name, list(on)))
        snap = self.props.get((device, name))
        serial = snap.serial if snap else 0
        if snap is not None:
            snap.state = "Busy"
        return serial


def test_indi_park_source_reads_telescope_park():
    client = FakeClient()
    source = IndiParkSource(client, "Mount", clock=lambda: T0)
    assert source.read().time is None  # no property yet
    client.put("Mount", "CONNECTION", "Ok", CONNECT=True, DISCONNECT=False)
    client.put("Mount", "TELESCOPE_PARK", "Ok", PARK=True, UNPARK=False)
    assert (source.read().parked, source.read().time) == (True, T0)
    client.put("Mount", "TELESCOPE_PARK", "Busy", PARK=True, UNPARK=False)
    assert source.read().parked is False  # parking is not parked
    client.put("Mount", "TELESCOPE_PARK", "Alert", PARK=True, UNPARK=False)
    assert source.read().parked is None
    client.connected = False
    assert source.read().time is None
    source.request_park()
    assert client.sent[-1] == ("Mount", "TELESCOPE_PARK", ["PARK"])


@pytest.mark.parametrize("style,prop,closed,opened", [("rolloff", "DOME_PARK", "PARK", "UNPARK"),
                                                      ("shutter", "DOME_SHUTTER", "SHUTTER_CLOSE", "SHUTTER_OPEN")])
def test_indi_roof_maps_its_property_to_a_state(style, prop, closed, opened):
    client = FakeClient()
    now = [T0]
    roof = IndiRoof(client, "Roof", style=style, clock=lambda: now[0])
    assert roof.status().state is RoofPosition.UNKNOWN
    client.put("Roof", prop, "Ok", **{closed: False, opened: True})
    assert roof.status().state is RoofPosition.OPEN
    now[0] = T0 + timedelta(seconds=3)
    roof.close()
    assert client.sent[-1] == ("Roof", prop, [closed])
    status = roof.status()  # the client marked its old copy (opened on) Busy: still our close
    assert status.state is RoofPosition.CLOSING and status.since == now[0]
    client.put("Roof", prop, "Busy", **{closed: True, opened: False})
    assert roof.status().state is RoofPosition.CLOSING
    client.put("Roof", prop, "Ok", **{closed: True, opened: False})
    assert roof.status().state is RoofPosition.CLOSED
    roof.open()
    assert roof.status().state is RoofPosition.OPENING
    client.put("Roof", prop, "Alert", **{closed: False, opened: True})
    assert roof.status().state is RoofPosition.ERROR
    roof.abort()
    assert client.sent[-1] == ("Roof", "DOME_ABORT_MOTION", ["ABORT"])
    client.connected = False
    assert roof.status().state is RoofPosition.UNKNOWN
    with pytest.raises(ValueError):
        IndiRoof(client, "Roof", style="clamshell")


def test_simulated_roof_scales_time_and_breaks_on_request():
    now = [T0]
    roof = SimulatedRoof(lambda: now[0], travel_s=10, time_scale=5)
    roof.open()
    now[0] += timedelta(seconds=1)
    assert roof.state is RoofPosition.OPENING
    now[0] += timedelta(seconds=1)
    status = roof.status()
    assert status.state is RoofPosition.OPEN and status.since == T0 + timedelta(seconds=2)
    roof.stuck = True
    roof.close()
    now[0] += timedelta(seconds=60)
    assert roof.state is RoofPosition.CLOSING
    roof.abort()
    assert roof.state is RoofPosition.UNKNOWN
    roof.fail_next = True
    roof.close()
    assert roof.state is RoofPosition.ERROR
    with pytest.raises(ValueError):
        SimulatedRoof(time_scale=0)


def test_simulated_mount_parks_fails_and_drops_out():
    now = [T0]
    mount = SimulatedMount(lambda: now[0], park_s=5, parked=False)
    mount.request_park()
    now[0] += timedelta(seconds=5)
    assert mount.parked
    source = mount.sources["node"]
    assert source.read().time == now[0]
    source.dropped = True
    now[0] += timedelta(seconds=100)
    assert source.read().time == T0 + timedelta(seconds=5)
    mount.unpark()
    mount.park_fails = True
    mount.request_park()
    now[0] += timedelta(seconds=100)
    assert not mount.parked


def test_roof_and_mount_contracts_round_trip_and_validate():
    message = RoofState(node="roof1", state="closing", activity="closing", mount_parked={"a": True, "b": None})
    assert parse_message(message.to_json()) == message
    report = MountReport(node="scope1", parked=False)
    assert parse_message(report.to_wire()).parked is False
    with pytest.raises(InvalidMessage, match="state"):
        parse_message({**message.to_wire(), "state": "ajar"})
    assert names.roof_key("roof1") == "observatory.roof1.roof"
    assert names.mount_key("scope1") == "telescope.scope1.mount"


def test_telescope_node_reports_its_mount():
    from node_telescope.node import TelescopeNode

    node = SimpleNamespace(name="scope1", backend=SimpleNamespace(is_parked=lambda: True))
    assert TelescopeNode.mount_report(node).parked is True

    def broken():
        raise RuntimeError("mount gone")
    node.backend = SimpleNamespace(is_parked=broken)
    report = TelescopeNode.mount_report(node)
    assert report.parked is None and "mount gone" in report.reason
