"""``obsy telescope``: run the telescope node."""
from __future__ import annotations

import logging
import signal
import threading

import click

from common.cli import load_role_config


@click.group("telescope", invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default ~/.config/obsy/telescope.toml).")
@click.pass_context
def telescope_group(ctx, config_path) -> None:
    """The telescope node: imaging, spool and upload to the master."""
    if ctx.invoked_subcommand is not None:
        return
    from .node import TelescopeNode

    config = load_role_config("telescope", config_path)
    node = TelescopeNode(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.start()
    click.echo(f"telescope node {config.node.name} running; spool {node.spool.root}")
    stop.wait()
    node.stop()
    logging.getLogger(__name__).info("telescope node stopped")
