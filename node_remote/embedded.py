"""The remote site inside ``obsy demo``: it reads the live topics from the demo's private Mosquitto
and the gallery from the demo portal, on a free port."""
from __future__ import annotations

from common.config import load_config
from common.embedded import DEMO_SITE


def start(ctx) -> None:
    if not ctx.mqtt_port:
        return  # the demo has said why there is no broker, so no public site
    from .server import RemoteNode

    portal = f"http://127.0.0.1:{ctx.web_port}"
    config = load_config("remote", None, mqtt={"host": "127.0.0.1", "port": ctx.mqtt_port, "site": DEMO_SITE,
                                               "reconnect_max_s": 5.0},
                         web={"port": 0, "title": "OBSY demo observatory", "master_url": portal},
                         gallery={"master_api_url": portal, "refresh_s": 30})
    node = RemoteNode(config, client_id="obsy-demo-remote").start()
    ctx.announce(f"Public site: {node.url}/  (live from MQTT 127.0.0.1:{ctx.mqtt_port}, no login)")
    ctx.on_stop(node.stop)
