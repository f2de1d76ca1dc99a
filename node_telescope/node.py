"""The telescope node process: imaging backend → spool → uploader, plus heartbeats."""
from __future__ import annotations

import itertools
import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dramatiq

from common import names, paths
from common.contracts import (InvalidMessage, MountReport, NodeHeartbeat, ParkRequest, SafetyState, ScheduleJob,
                              parse_message)
from common.events import EventBus, make_event_bus
from common.jobs import make_broker
from common.objectstore import ObjectStore, open_store
from . import __version__
from .backends import BackendError, make_backend
from .jobs import JobRunner, JobStore
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
            if config.simulator.free_run else None
        self.backend = make_backend(config, work_dir=self.spool.root / "ekos")
        self.jobs = JobRunner(self.name, JobStore(self.spool.root / "jobs"), self.backend, self.spool,
                              publish=lambda progress: self.bus.publish(names.job_progress_key(self.name), progress),
                              on_frame=self.uploader.notify)
        self._register_actor()
        self._worker: dramatiq.Worker | None = None
        self._stop = threading.Event()
        self._parking = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _register_actor(self) -> None:
        def run_schedule(message):
            job = parse_message(message, ScheduleJob)
            if job.node != self.name:
                raise InvalidMessage(f"schedule {job.job_id} is for node {job.node!r}, not {self.name!r}")
            self.jobs.submit(job)

        # Acknowledged once the job is on disk; the runner thread does the night's work.
        dramatiq.actor(run_schedule, broker=self.broker, actor_name=names.RUN_SCHEDULE_ACTOR,
                       queue_name=names.schedule_queue(self.name), throws=(InvalidMessage,), max_retries=5)

    def on_safety(self, routing_key: str, message) -> None:
        if isinstance(message, SafetyState) and message.state != "safe":
            reason = f"sky {message.state} ({message.node}): {'; '.join(message.reasons) or 'no reason given'}"
            self.stop_and_park(reason)

    def on_park_request(self, routing_key: str, message) -> None:
        if isinstance(message, ParkRequest) and message.node == self.name:
            self.stop_and_park(f"park requested by {message.requested_by}: {message.reason or 'no reason given'}")

    def stop_and_park(self, reason: str) -> None:
        log.warning("%s: stopping imaging and parking", reason)
        if self.jobs.current is not None:
            self.jobs.interrupt(reason)  # the runner parks after the interrupted job
            return
        # Verdicts and park requests repeat while a park takes half a minute: a second park
        # command sent meanwhile makes the INDI telescope simulator abort the first.
        if not self._parking.acquire(blocking=False):
            log.info("park already in progress")
            return
        try:
            if not self.backend.is_parked():
                self.backend.park()
        except BackendError as exc:
            # Nothing else can park it from here: say so loudly; the observatory's own
            # interlock keeps the roof where it is while the mount is not parked.
            log.critical("%s, but the mount could not be parked: %s", reason, exc)
        finally:
            self._parking.release()

    def heartbeat(self) -> NodeHeartbeat:
        current = self.jobs.current
        if current is not None:
            state = f"job {current.job.job_id}: frame {current.frames_done}/{current.frame_total}"
        else:
            state = self.imaging.state if self.imaging else "idle"
        detail = {"uploader_error": self.uploader.last_error} if self.uploader.last_error else {}
        return NodeHeartbeat(node=self.name, role="telescope", software_version=__version__, state=state,
                             spool_backlog=len(self.spool), detail=detail)

    def mount_report(self) -> MountReport:
        """Parked or not, as the backend reads it now; the observatory's roof interlock uses it."""
        try:
            return MountReport(node=self.name, parked=bool(self.backend.is_parked()))
        except Exception as exc:
            return MountReport(node=self.name, parked=None, reason=str(exc)[:500])

    def _heartbeats(self) -> None:
        while True:
            try:
                self.bus.publish(names.heartbeat_key("telescope", self.name), self.heartbeat())
                self.bus.publish(names.mount_key(self.name), self.mount_report())
            except Exception as exc:
                log.warning("heartbeat not sent: %s", exc)
            if self._stop.wait(self.config.heartbeat_s):
                return

    def start(self) -> None:
        self.uploader.subscribe(self.bus)
        self.bus.subscribe([names.SAFETY_PATTERN], self.on_safety)
        self.bus.subscribe([names.PARK_REQUEST_PATTERN], self.on_park_request)
        self.uploader.start()
        self.jobs.start()
        self._worker = dramatiq.Worker(self.broker, queues={names.schedule_queue(self.name)}, worker_threads=1,
                                       worker_timeout=500)
        self._worker.start()
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
        if self._worker is not None:
            self._worker.stop(timeout=5000)
        self.jobs.stop()
        try:
            self.backend.close()
        except Exception as exc:
            log.warning("backend %s did not close cleanly: %s", self.backend.name, exc)
        self.uploader.stop()
        for thread in self._threads:
            thread.join(timeout=10)
