"""Schedule jobs on the telescope node: accepted to disk, run in order, resumable.

A ``run_schedule`` job is acknowledged as soon as it is written to the job
store, so a night-long run never holds a broker message open. The runner
executes stored jobs one at a time through the backend, records every
finished frame in the job's state file (atomically), and after a restart
carries on from the first frame not yet taken.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from common.atomicfile import atomic_write
from common.contracts import JobProgress, ScheduleJob, parse_message
from .backends import Backend, BackendError, CapturedFrame, ExposureAborted, JobContext, ScheduleBackend
from .spool import Spool

log = logging.getLogger(__name__)
FINISHED = ("done", "failed", "interrupted")


@dataclass
class JobState:
    job: ScheduleJob
    state: str = "queued"
    frames_done: int = 0
    reason: str | None = None
    shas: list[str] = field(default_factory=list)
    rows_done: dict[str, int] = field(default_factory=dict)  # schedule backends: frames per "<target>.<row>"
    picked: list[str] = field(default_factory=list)  # schedule backends: capture files already spooled

    @property
    def frame_total(self) -> int:
        return sum(row.count for target in self.job.targets for row in target.rows)

    def to_json(self) -> bytes:
        return json.dumps({"job": self.job.to_wire(), "state": self.state, "frames_done": self.frames_done,
                           "reason": self.reason, "shas": self.shas, "rows_done": self.rows_done,
                           "picked": self.picked}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "JobState":
        data = json.loads(raw)
        return cls(parse_message(data["job"], ScheduleJob), data["state"], data["frames_done"], data["reason"],
                   data.get("shas", []), data.get("rows_done", {}), data.get("picked", []))


class JobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def save(self, state: JobState) -> None:
        atomic_write(self.path(state.job.job_id), state.to_json())

    def load(self, job_id: str) -> JobState | None:
        try:
            return JobState.from_json(self.path(job_id).read_bytes())
        except FileNotFoundError:
            return None

    def accept(self, job: ScheduleJob) -> JobState:
        """Store a new job; a job id seen before is not run twice."""
        existing = self.load(job.job_id)
        if existing is not None:
            return existing
        state = JobState(job)
        self.save(state)
        return state

    def unfinished(self) -> list[JobState]:
        states = [JobState.from_json(p.read_bytes()) for p in self.root.glob("*.json")]
        pending = [s for s in states if s.state not in FINISHED]
        return sorted(pending, key=lambda s: s.job.sent_at)


class Interrupted(Exception):
    pass


class JobRunner:
    """Runs stored jobs through a backend, one at a time, on its own thread."""

    def __init__(self, node: str, store: JobStore, backend: Backend, spool: Spool,
                 publish: Callable[[JobProgress], None], on_frame: Callable[[], None] = lambda: None):
        self.node = node
        self.store = store
        self.backend = backend
        self.spool = spool
        self.publish = publish
        self.on_frame = on_frame
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interrupt: str | None = None
        self._replacing = False  # the interrupt is a re-plan: do not park
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.current: JobState | None = None

    # --- control -------------------------------------------------------------
    def submit(self, job: ScheduleJob) -> JobState:
        state = self.store.accept(job)
        if state.state == "queued" and state.frames_done == 0:
            self._emit(state, "queued")
            if job.replaces:
                self._replace(job.replaces, job.job_id)
        self._wake.set()
        return state

    def _replace(self, old_id: str, new_id: str) -> None:
        """Stop ``old_id`` for a re-plan: the running job is interrupted without parking (the new
        one slews on), a queued one is closed before it starts; a finished one is left alone."""
        reason = f"replaced by {new_id}"
        with self._lock:
            running = self.current is not None and self.current.job.job_id == old_id
            if running:
                self._interrupt, self._replacing = reason, True
        if running:
            self.backend.abort()
            return
        old = self.store.load(old_id)
        if old is not None and old.state not in FINISHED:
            self._finish(old, "interrupted", reason)

    def interrupt(self, reason: str) -> None:
        """Stop the running job now (e.g. unsafe sky): abort the exposure, park."""
        with self._lock:
            if self.current is None:
                return
            self._interrupt = reason
        self.backend.abort()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"obsy-{self.node}-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.backend.abort()
        if self._thread is not None:
            self._thread.join(timeout=15)

    # --- running -------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self.backend.connect()
        except BackendError as exc:
            log.error("backend %s cannot connect: %s", self.backend.name, exc)
        while not self._stop.is_set():
            pending = self.store.unfinished()
            if not pending:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self.run(pending[0])

    def _emit(self, state: JobState, kind: str, **fields) -> None:
        try:
            self.publish(JobProgress(job_id=state.job.job_id, node=self.node, state=kind,
                                     frame_total=state.frame_total, **fields))
        except Exception as exc:  # progress is advisory; the job state file is the record
            log.warning("job progress not published: %s", exc)

    def _finish(self, state: JobState, kind: str, reason: str | None = None) -> None:
        state.state, state.reason = kind, reason
        self.store.save(state)
        self._emit(state, kind, reason=reason, frame_index=state.frames_done)
        log.info("job %s %s%s", state.job.job_id, kind, f": {reason}" if reason else "")

    def _check(self) -> None:
        if self._interrupt is not None:
            raise Interrupted(self._interrupt)
        if self._stop.is_set():
            raise Interrupted("node stopping")

    def run(self, state: JobState) -> None:
        with self._lock:
            self.current, self._interrupt, self._replacing = state, None, False
        resumed = state.frames_done > 0
        state.state = "started"
        self.store.save(state)
        self._emit(state, "started", reason="resumed after restart" if resumed else None,
                   frame_index=state.frames_done)
        try:
            if isinstance(self.backend, ScheduleBackend):
                self._run_scheduled(state)
            else:
                self._run_sequenced(state)
            if state.job.park_at_end:
                self.backend.park()
            self._finish(state, "done")
        except (Interrupted, ExposureAborted) as exc:
            if self._stop.is_set() and self._interrupt is None:
                # The node is shutting down: keep the job resumable from its last frame.
                log.info("job %s paused at frame %d for shutdown", state.job.job_id, state.frames_done)
                return
            reason = self._interrupt or str(exc)
            if not self._replacing:
                self._park_after(state, reason)
            self._finish(state, "interrupted", reason)
        except BackendError as exc:
            self._park_after(state, str(exc))
            self._finish(state, "failed", str(exc))
        except Exception as exc:
            log.exception("job %s crashed", state.job.job_id)
            self._park_after(state, str(exc))
            self._finish(state, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self.current = None

    def _run_scheduled(self, state: JobState) -> None:
        """The backend's own scheduler runs the job; each frame it hands back goes into the spool."""
        job = state.job

        def deliver(frame: CapturedFrame, key: str | None, source: str | None) -> None:
            entry = self.spool.add(frame.data, frame.filename, frame.captured_at)
            state.frames_done += 1
            state.shas.append(entry.sha256)
            if key is not None:
                state.rows_done[key] = state.rows_done.get(key, 0) + 1
            if source is not None:
                state.picked.append(source)
            self.store.save(state)
            self.on_frame()
            target, filter_name = _row_names(job, key)
            self._emit(state, "frame", target=target, filter_name=filter_name, frame_index=state.frames_done,
                       sha256=entry.sha256)

        def progress(kind: str, target: str | None, filter_name: str | None) -> None:
            index = state.frames_done + 1 if kind == "exposing" else None
            self._emit(state, kind, target=target, filter_name=filter_name, frame_index=index)

        self._check()
        # rows_done is the state's own dict: deliver() updates it and the backend reads it.
        self.backend.run_job(JobContext(job, state.rows_done, set(state.picked), deliver, progress))
        self._check()

    def _run_sequenced(self, state: JobState) -> None:
        index = 0
        for target in state.job.targets:
            todo = sum(row.count for row in target.rows)
            if index + todo <= state.frames_done:
                index += todo
                continue
            self._check()
            self._emit(state, "slewing", target=target.name)
            self.backend.slew(target.ra_deg, target.dec_deg, target.name)
            for row in target.rows:
                if index + row.count <= state.frames_done:
                    index += row.count
                    continue
                self.backend.set_filter(row.filter_name)
                for _ in range(row.count):
                    index += 1
                    if index <= state.frames_done:
                        continue
                    self._check()
                    self._emit(state, "exposing", target=target.name, filter_name=row.filter_name,
                               frame_index=index)
                    frame = self.backend.expose(row.exposure_s, frame_type=row.frame_type,
                                                object_name=target.name, filter_name=row.filter_name,
                                                binning=row.binning, gain=row.gain, offset=row.offset)
                    entry = self.spool.add(frame.data, frame.filename, frame.captured_at)
                    state.frames_done = index
                    state.shas.append(entry.sha256)
                    self.store.save(state)
                    self.on_frame()
                    self._emit(state, "frame", target=target.name, filter_name=row.filter_name,
                               frame_index=index, sha256=entry.sha256)

    def _park_after(self, state: JobState, reason: str) -> None:
        try:
            self.backend.park()
        except BackendError as exc:
            log.error("park after %s failed: %s", reason, exc)


def _row_names(job: ScheduleJob, key: str | None) -> tuple[str | None, str | None]:
    if key is None:
        return None, None
    ti, ri = (int(part) for part in key.split("."))
    target = job.targets[ti]
    return target.name, target.rows[ri].filter_name
