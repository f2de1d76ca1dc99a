"""``obsy demo``: every role in one process on the embedded defaults.

Each role contributes an ``obsy.embedded`` entry point ``start(ctx)``, so this
module imports no role. The master starts first: it registers the actors the
nodes send jobs to.
"""
from __future__ import annotations

import logging
import signal
import threading
from importlib.metadata import entry_points

from . import paths
from .embedded import EmbeddedContext
from .events import InProcessEventBus
from .jobs import make_broker
from .config import BrokerConfig
from .objectstore import LocalObjectStore

ROLE_ORDER = ["master", "observatory", "telescope", "remote"]


def embedded_starters() -> list:
    found = {ep.name: ep for ep in entry_points(group="obsy.embedded")}
    ordered = [found[name] for name in ROLE_ORDER if name in found]
    ordered += [ep for name, ep in sorted(found.items()) if name not in ROLE_ORDER]
    return ordered


def build_context(data_dir=None, web_port: int = 8000) -> EmbeddedContext:
    data_dir = data_dir or paths.data_dir() / "demo"
    data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedContext(
        data_dir=data_dir,
        broker=make_broker(BrokerConfig(kind="embedded")),
        bus=InProcessEventBus(),
        store=LocalObjectStore(data_dir / "repository"),
        web_port=web_port,
    )


def start_broker(ctx: EmbeddedContext) -> None:
    """A private Mosquitto for the live topics, when installed (the first thing started, the
    last stopped)."""
    from .mosquitto import PrivateMosquitto, find_mosquitto

    executable = find_mosquitto()
    if executable is None:
        ctx.announce("Live MQTT and the public site: off (install mosquitto to see them)")
        return
    broker = PrivateMosquitto(ctx.data_dir / "mosquitto", executable).start()
    ctx.mqtt_port = broker.port
    ctx.on_stop(broker.stop)


def start_all(ctx: EmbeddedContext) -> None:
    start_broker(ctx)
    for ep in embedded_starters():
        logging.getLogger(__name__).info("starting %s", ep.name)
        ep.load()(ctx)


def stop_all(ctx: EmbeddedContext) -> None:
    for stop in reversed(ctx.stoppers):
        try:
            stop()
        except Exception:
            logging.getLogger(__name__).exception("error while stopping")
    ctx.bus.close()


def run_demo(data_dir=None, web_port: int = 8000) -> None:
    ctx = build_context(data_dir, web_port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        start_all(ctx)
        print("\nOBSY demo is running (every role in this process, simulated devices).", flush=True)
        for line in ctx.announcements:
            print("  " + line, flush=True)
        print("  Press Ctrl+C to stop.\n", flush=True)
        done.wait()
    finally:
        stop_all(ctx)
