"""Build the roof controller a config asks for (``[roof]`` in observatory.toml)."""
from __future__ import annotations

import logging
from pathlib import Path

from common import names, paths
from common.config import ObservatoryConfig

from .controller import RoofController, RoofSettings
from .park import BusParkSource

log = logging.getLogger(__name__)


def roof_settings(config: ObservatoryConfig) -> RoofSettings:
    rc = config.roof
    return RoofSettings(park_max_age_s=rc.park_max_age_s, park_timeout_s=rc.park_timeout_s,
                        motion_timeout_s=rc.motion_timeout_s, min_safe_s=rc.min_safe_s,
                        # the verdict comes from this process's own loop: silence means the loop is stuck
                        safety_max_age_s=max(30.0, 10 * config.safety.tick_s), auto_open=rc.auto_open)


def build_roof_controller(config: ObservatoryConfig, bus, on_alarm=None) -> RoofController | None:
    """None for ``kind = "none"``. ``simulator``: a simulated roof and mount, both park sources
    watching that mount (a self-contained demo). ``indi``: the roof and the mount on one
    indiserver, plus the telescope node's ``MountReport`` events on ``bus`` as the second source.
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
    reports = BusParkSource(rc.telescope_node)
    reports.subscribe(bus)
    # A park request goes to the mount directly; the telescope node parks too, on the non-safe
    # SafetyState it receives on the bus.
    return RoofController(node, roof, [direct, reports], request_park=direct.request_park,
                          settings=roof_settings(config), publish=publish, state_path=state_path,
                          on_alarm=on_alarm)
