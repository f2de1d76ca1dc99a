"""The telescope node inside ``obsy demo``: a simulated camera on an accelerated clock."""
from __future__ import annotations

from common.config import load_config
from .node import TelescopeNode


def start(ctx) -> None:
    config = load_config("telescope", None, node={"name": "scope1"},
                         spool={"path": str(ctx.data_dir / "spool" / "scope1"), "resend_after_s": 30},
                         simulator={"free_run": True, "frame_interval_s": 3.0}, heartbeat_s=5.0)
    node = TelescopeNode(config, broker=ctx.broker, bus=ctx.bus, store=ctx.store)
    node.start()
    ctx.announce(f"Telescope node 'scope1': simulated camera, a frame every "
                 f"{config.simulator.frame_interval_s:g} s (each a {config.simulator.exposure_s:g} s exposure)")
    ctx.on_stop(node.stop)
