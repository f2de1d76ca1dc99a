"""Build the roof controller a config asks for (``[roof]`` in observatory.toml)."""
from __future__ import annotations

import logging
from pathlib import Path

from common import names, paths
from common.config import ObservatoryConfig
from common.contracts import ParkRequest

from .controller import RoofController, RoofSettings
from .park import BusParkSource

log = logging.getLogger(__name__)


def roof_settings(config: ObservatoryConfig) -> RoofSettings:
    rc = config.roof
    return RoofSettings(park_max_age_s=rc.park_max_age_s, park_timeout_s=rc.park_timeout_s,
                        motion_timeout_s=rc.motion_timeout_s, min_safe_s=rc.min_safe_s,
                        # the verdict comes from this process's own loop: silence means the loop is stuck
                        safety_max_age_s=max(30.0, 10 * config.safety.tick_s), auto_open=rc.auto_open,
                        republish_s=config.publish_every_s)


def build_roof_controller(config: ObservatoryConfig, bus, wake=None, on_alarm=None) -> RoofController | None:
    """None for ``kind = "none"``. ``simulator``: a simulated roof and mount, both park sources
    watching that mount (a self-contained demo). ``indi``: the roof and the mount on one
    indiserver, plus the telescope node's ``MountReport`` events on ``bus`` as the second source.
    ``wake`` (a threading.Event) is set whenever a mount report arrives, so the node loop acts at once;
    ``on_alarm`` is called with every alarm the controller raises (the notifications)."""
    rc = config.roof
    if rc.kind == "none":
        return None
    node = config.node.name
    state_path = Path(rc.state_file) if rc.state_file else paths.data_dir() / "roof" / f"{node}.json"
    publish = lambda message: bus.publish(names.roof_key(node), message)  # noqa: E731
    if rc.kind == "simulator":
        from .simulator import SimulatedMount, SimulatedRoof

        mount = SimulatedMount()
        return RoofController(node, SimulatedRoof(), list(mount.sources.values()), request_park=mount.request_park,
                              settings=roof_settings(config), publish=publish, state_path=state_path,
                          on_alarm=on_alarm)
    from .indi import IndiRoof, RoofClient
    from .park import IndiParkSource

    client = RoofClient(rc.indi_host, rc.indi_port)
    client.open(10)
    roof = IndiRoof(client, rc.device, style=rc.style)
    roof.connect()
    try:
        client.wait_property(rc.mount_device, "CONNECTION", 10)
        if not client.value(rc.mount_device, "CONNECTION", "CONNECT"):
            client.send_switch(rc.mount_device, "CONNECTION", ["CONNECT"])
        client.wait_property(rc.mount_device, "TELESCOPE_PARK", 10)
    except Exception as exc:  # the interlock reads "not parked" until the mount is there
        log.warning("mount %s not ready for the roof interlock: %s", rc.mount_device, exc)
    direct = IndiParkSource(client, rc.mount_device)
    reports = BusParkSource(rc.telescope_node, on_update=wake.set if wake is not None else None)
    reports.subscribe(bus)

    def request_park() -> None:
        # Both ways: the mount directly, and the telescope node (which also stops its job).
        try:
            bus.publish(names.park_request_key(node), ParkRequest(node=rc.telescope_node, requested_by=node,
                                                                 reason="the roof interlock needs the mount parked"))
        except Exception as exc:
            log.error("park request to telescope node %s not sent: %s", rc.telescope_node, exc)
        direct.request_park()

    return RoofController(node, roof, [direct, reports], request_park=request_park,
                          settings=roof_settings(config), publish=publish, state_path=state_path,
                          on_alarm=on_alarm)
