"""``obsy remote``: the public live site."""
from __future__ import annotations

import signal
import threading

import click

from common.cli import load_role_config


@click.command("remote")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default ~/.config/obsy/remote.toml).")
@click.option("--bind", help="host:port to serve on (default from [web] in the config).")
def remote_group(config_path, bind) -> None:
    """Serve the public, read-only live site from the master's MQTT topics."""
    from .server import RemoteNode

    config = load_role_config("remote", config_path)
    if bind:
        host, sep, port = bind.rpartition(":")
        if not sep or not port.isdigit():
            raise click.BadParameter(f"{bind!r} is not host:port", param_hint="--bind")
        config.web.host, config.web.port = host or config.web.host, int(port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node = RemoteNode(config)
    node.start()
    click.echo(f"obsy remote: http://{config.web.host}:{node.port}/  (MQTT {config.mqtt.host}:{config.mqtt.port}, "
               f"topics {config.mqtt.topic_prefix}/{config.mqtt.site}/#)")
    try:
        stop.wait()
    finally:
        node.stop()
