"""What every master process holds: config, database, object store, event bus."""
from __future__ import annotations

import logging

from common.events import EventBus, make_event_bus
from common.objectstore import ObjectStore, open_store
from .db import make_engine, make_sessionmaker
from .migrate import upgrade_engine

log = logging.getLogger(__name__)


class MasterServices:
    def __init__(self, config, *, store: ObjectStore | None = None, bus: EventBus | None = None,
                 migrate: bool = True):
        self.config = config
        self.engine = make_engine(config.database.resolved_url())
        if migrate:
            upgrade_engine(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.store = store if store is not None else open_store(config.store)
        self._bus = bus

    @property
    def bus(self) -> EventBus:
        # Created on first use: `obsy ingest` from disk needs no broker.
        if self._bus is None:
            self._bus = make_event_bus(self.config.broker)
        return self._bus

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
        self.engine.dispose()
