"""Shared by the library and live-stack tests: embedded master services with a worker, and ingest."""
from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager

from astropy.io import fits
from dramatiq import Worker

from common import names
from common.config import load_config
from common.contracts import IngestFrame
from common.events import InProcessEventBus
from common.jobs import make_broker
from master.ingest.claim import ingest_claim
from master.services import MasterServices
from master.worker import WORKER_QUEUES, build_broker, subscribe_events


@contextmanager
def running_master(tmp_path, **library):
    """Services on SQLite and a local store, with the worker's actors and event subscriptions running."""
    config = load_config("master", None, database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
                         store={"kind": "local", "path": str(tmp_path / "repo")}, library=library)
    bus = InProcessEventBus()
    events = []
    bus.subscribe(["master.#"], lambda key, message: events.append(message))
    broker = make_broker(config.broker)
    services = MasterServices(config, bus=bus, broker=broker)
    services.events = events
    build_broker(services, broker=broker)
    subscribe_events(services)
    worker = Worker(broker, queues=WORKER_QUEUES, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield services
    finally:
        worker.stop()
        bus.close()
        services.close()


def ingest(services, path, node="scope1") -> None:
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = names.incoming_key(node, sha)
    services.store.put_bytes(key, data)
    ingest_claim(services, IngestFrame(node=node, key=key, size=len(data), sha256=sha,
                                       filename=path.name).to_wire())


def settle(services, timeout_ms: int = 60_000) -> None:
    """Every event handled and every job it caused done."""
    for _ in range(2):  # jobs publish events that may enqueue more jobs
        services.bus.drain()
        services.job_broker.join(names.PROCESSING_QUEUE, timeout=timeout_ms, fail_fast=False)
    services.bus.drain()


def read_object(services, key):
    """The pixels of a FITS object in the store."""
    return fits.getdata(io.BytesIO(services.store.get_bytes(key)))
