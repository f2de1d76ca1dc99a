"""What every master process holds: config, database, object store, event bus."""
from __future__ import annotations

import logging
import threading

import dramatiq

from common.events import EventBus, make_event_bus
from common.jobs import make_broker
from common.objectstore import ObjectStore, open_store
from .db import make_engine, make_sessionmaker
from .migrate import upgrade_engine

log = logging.getLogger(__name__)


class MasterServices:
    def __init__(self, config, *, store: ObjectStore | None = None, bus: EventBus | None = None,
                 broker: dramatiq.Broker | None = None, migrate: bool = True):
        self.config = config
        self.engine = make_engine(config.database.resolved_url())
        if migrate:
            upgrade_engine(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.store = store if store is not None else open_store(config.store)
        self._bus = bus
        self._broker = broker
        self._own_broker = broker is None  # a broker handed in belongs to the caller
        self._broker_lock = threading.Lock()

    @property
    def bus(self) -> EventBus:
        # Created on first use: `obsy ingest` from disk needs no broker.
        if self._bus is None:
            self._bus = make_event_bus(self.config.broker)
        return self._bus

    @property
    def job_broker(self) -> dramatiq.Broker:
        # The portal sends schedules through it; created on first use like the bus.
        with self._broker_lock:  # portal threads may ask at once
            if self._broker is None:
                self._broker = make_broker(self.config.broker)
            return self._broker

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
        if self._own_broker and self._broker is not None:
            self._broker.close()
        self.engine.dispose()
