"""The observatory config's [roof] section builds the controller the node loop drives."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from common import names
from common.config import load_config
from common.contracts import RoofState
from common.events import InProcessEventBus
from node_observatory.cli import status_handler
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.factory import build_roof_controller


def test_no_roof_by_default():
    assert build_roof_controller(load_config("observatory"), bus=None) is None


def test_simulated_roof_is_driven_by_each_safety_tick(tmp_path):
    config = load_config("observatory", roof={"kind": "simulator", "state_file": str(tmp_path / "r.json"),
                                              "min_safe_s": 0, "park_max_age_s": 5})
    bus = InProcessEventBus()
    try:
        events = []
        bus.subscribe([names.ROOF_PATTERN], lambda key, message: events.append((key, message)))
        controller = build_roof_controller(config, bus)
        assert controller.settings.min_safe_s == 0 and controller.settings.park_max_age_s == 5
        assert controller.recover().state is RoofPosition.CLOSED
        published = []
        handle = status_handler(published.append, controller)
        status = SimpleNamespace(state=SimpleNamespace(value="unsafe"), time=datetime.now(timezone.utc))
        handle(status)
        assert published == [status] and controller.sky(status.time) == "unsafe"
        assert controller.status.state is RoofPosition.CLOSED and controller.roof.commands == []
        bus.drain()
        assert events and events[0][0] == "observatory.roof1.roof" and isinstance(events[0][1], RoofState)
        assert (tmp_path / "r.json").exists()
    finally:
        bus.close()
