"""A telescope node parks when its observatory asks (the roof interlock), and ignores requests for others."""
from __future__ import annotations

import threading

from common.config import load_config
from common.contracts import ParkRequest
from common.events import InProcessEventBus
from common.jobs import make_broker
from common.objectstore import LocalObjectStore
from node_telescope.node import TelescopeNode


def test_park_request_for_this_node_parks_the_mount(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    config = load_config("telescope", None, spool={"path": str(tmp_path / "spool")},
                         simulator={"width": 128, "height": 96, "time_scale": 1000})
    bus = InProcessEventBus()
    node = TelescopeNode(config, broker=make_broker(config.broker), bus=bus, store=LocalObjectStore(tmp_path / "store"))
    backend = node.backend
    backend.connect()
    backend.slew(10.0, 41.0, "M 31")
    assert not backend.is_parked()
    parked = threading.Event()
    real_park = backend.park

    def park():
        real_park()
        parked.set()

    backend.park = park
    bus.subscribe(["observatory.*.park_request"], node.on_park_request)
    bus.publish("observatory.roof1.park_request", ParkRequest(node="scope2", requested_by="roof1"))
    bus.drain()
    assert not parked.is_set() and not backend.is_parked()  # another telescope's request
    bus.publish("observatory.roof1.park_request", ParkRequest(node="scope1", requested_by="roof1",
                                                              reason="the roof interlock needs the mount parked"))
    assert parked.wait(5) and backend.is_parked()
    bus.close()
