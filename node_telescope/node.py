"""The telescope node process: imaging backend → spool → uploader, plus heartbeats."""
from __future__ import annotations

import itertools
import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import names, paths
from common.contracts import NodeHeartbeat
from common.events import EventBus, make_event_bus
from common.jobs import make_broker
from common.objectstore import ObjectStore, open_store
from . import __version__
from .spool import Spool
from .uploader import Uploader

log = logging.getLogger(__name__)


class SimulatedImaging:
    """Captures frames of the configured targets on an accelerated clock."""

    def __init__(self, config, spool: Spool, on_frame):
        from .simulator.camera import SimulatedCamera
        from .simulator.targets import pointing_for

        self.config = config.simulator
        for name in self.config.targets:
            pointing_for(name)  # fail at start-up on an unknown target, not at 3 a.m.
        self.camera = SimulatedCamera(width=self.config.width, height=self.config.height)
        self.spool = spool
        self.on_frame = on_frame
        self.clock = datetime.now(timezone.utc)
        self.sequence = itertools.cycle(
            [(t, f) for t in self.config.targets for f in self.config.filters])
        self.captured = 0
        self.state = "idle"

    def capture_one(self) -> str:
        from .simulator.camera import to_bytes
        from .simulator.targets import pointing_for

        target, filter_name = next(self.sequence)
        ra, dec = pointing_for(target)
        self.state = f"imaging {target} {filter_name}"
        hdul = self.camera.capture(ra, dec, self.config.exposure_s, filter_name, "light", self.clock,
                                   object_name=target, rng_seed=self.captured)
        stamp = self.clock.strftime("%Y-%m-%dT%H-%M-%S")
        filename = f"{target.replace(' ', '_')}_{filter_name}_{self.config.exposure_s:g}s_{stamp}.fits"
        entry = self.spool.add(to_bytes(hdul), filename, self.clock)
        self.clock += timedelta(seconds=self.config.exposure_s + 5)
        self.captured += 1
        self.on_frame(entry)
        return entry.sha256

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.config.frame_interval_s):
            if self.config.max_frames and self.captured >= self.config.max_frames:
                self.state = "done"
                return
            try:
                self.capture_one()
            except Exception:
                log.exception("simulated capture failed")


class TelescopeNode:
    def __init__(self, config, *, broker=None, bus: EventBus | None = None, store: ObjectStore | None = None):
        self.config = config
        self.name = config.node.name
        spool_path = Path(config.spool.path) if config.spool.path else paths.data_dir() / "spool" / self.name
        self.spool = Spool(spool_path)
        self.store = store if store is not None else open_store(config.store)
        self.broker = broker if broker is not None else make_broker(config.broker)
        self.bus = bus if bus is not None else make_event_bus(config.broker)
        self.uploader = Uploader(self.name, self.spool, self.store, self.broker,
                                 resend_after_s=config.spool.resend_after_s, retry_max_s=config.spool.retry_max_s)
        self.imaging = SimulatedImaging(config, self.spool, lambda entry: self.uploader.notify()) \
            if config.simulator.enabled else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def heartbeat(self) -> NodeHeartbeat:
        state = self.imaging.state if self.imaging else "idle"
        detail = {"uploader_error": self.uploader.last_error} if self.uploader.last_error else {}
        return NodeHeartbeat(node=self.name, role="telescope", software_version=__version__, state=state,
                             spool_backlog=len(self.spool), detail=detail)

    def _heartbeats(self) -> None:
        while True:
            try:
                self.bus.publish(names.heartbeat_key("telescope", self.name), self.heartbeat())
            except Exception as exc:
                log.warning("heartbeat not sent: %s", exc)
            if self._stop.wait(self.config.heartbeat_s):
                return

    def start(self) -> None:
        self.uploader.subscribe(self.bus)
        self.uploader.start()
        self._spawn(self._heartbeats, "heartbeat")
        if self.imaging is not None:
            self._spawn(lambda: self.imaging.run(self._stop), "imaging")
        log.info("telescope node %s started; spool %s holds %d frames", self.name, self.spool.root, len(self.spool))

    def _spawn(self, target, label) -> None:
        thread = threading.Thread(target=target, name=f"obsy-{self.name}-{label}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.uploader.stop()
        for thread in self._threads:
            thread.join(timeout=10)
