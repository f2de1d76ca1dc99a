"""The job runner with a backend whose own scheduler runs the job (how EKOS is driven).

The backend here is a test double that hands frames back the way the EKOS backend does; the
real EKOS backend runs against KStars in tests/integration/test_ekos_*.py.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from common.contracts import ScheduleJob
from node_telescope.backends import BackendError, CapturedFrame, ExposureAborted, JobContext, ScheduleBackend
from common.ekos.from_job import remaining_rows
from node_telescope.jobs import JobRunner, JobStore
from node_telescope.spool import Spool


def job() -> ScheduleJob:
    return ScheduleJob(job_id="e1", node="scope1", targets=[
        {"name": "M 81", "ra_deg": 148.9, "dec_deg": 69.1,
         "rows": [{"filter_name": "R", "exposure_s": 60, "count": 2}, {"filter_name": "B", "exposure_s": 60, "count": 1}]},
        {"name": "M 82", "ra_deg": 149.0, "dec_deg": 69.7, "rows": [{"filter_name": "R", "exposure_s": 60, "count": 1}]}])


class ScriptedScheduler(ScheduleBackend):
    """Takes ``take`` frames of what is left (then optionally fails), one per row in order."""

    def __init__(self, take=None, fail_with=None, extra_frame=False, block=False):
        self.take, self.fail_with, self.extra_frame, self.block = take, fail_with, extra_frame, block
        self.contexts: list[dict] = []
        self.parked, self._abort, self.serial = False, threading.Event(), 0
        self.exposing = threading.Event()

    def connect(self):
        pass

    def _frame(self, context, key):
        self.serial += 1
        data = b"SIMPLE  =                    T" + bytes(2850) + self.serial.to_bytes(4, "big")
        context.deliver(CapturedFrame(data, f"f{self.serial}.fits", datetime.now(timezone.utc)), key,
                        f"/captures/f{self.serial}.fits")

    def run_job(self, context: JobContext):
        self.contexts.append(dict(context.rows_done))
        self.parked = False
        left = remaining_rows(context.job, context.rows_done)
        context.progress("slewing", "M 81", None)
        if self.extra_frame:
            self._frame(context, None)  # e.g. a frame EKOS took that no row asked for
        taken = 0
        for key, count in left.items():
            for _ in range(count):
                if self.take is not None and taken >= self.take:
                    if self.block:
                        self.exposing.set()
                        if self._abort.wait(10):
                            raise ExposureAborted("aborted")
                    if self.fail_with:
                        raise BackendError(self.fail_with)
                    return
                context.progress("exposing", "M 81", "R")
                self._frame(context, key)
                taken += 1

    def abort(self):
        self._abort.set()

    def park(self):
        self.parked = True

    def is_parked(self):
        return self.parked


def make(tmp_path, backend):
    events = []
    spool = Spool(tmp_path / "spool")
    return JobRunner("scope1", JobStore(tmp_path / "jobs"), backend, spool, events.append), spool, events


def test_frames_from_the_scheduler_are_spooled_and_counted_per_row(tmp_path):
    backend = ScriptedScheduler(extra_frame=True)
    runner, spool, events = make(tmp_path, backend)
    runner.run(runner.submit(job()))
    state = runner.store.load("e1")
    assert state.state == "done" and state.rows_done == {"0.0": 2, "0.1": 1, "1.0": 1}
    assert state.frames_done == 5 and len(spool) == 5  # the unasked-for frame is kept, not counted
    assert len(state.picked) == 5 and backend.parked
    frames = [e for e in events if e.state == "frame"]
    assert [(e.target, e.filter_name, e.frame_index) for e in frames] == [
        (None, None, 1), ("M 81", "R", 2), ("M 81", "R", 3), ("M 81", "B", 4), ("M 82", "R", 5)]
    assert [e.frame_index for e in events if e.state == "exposing"] == [2, 3, 4, 5]


def test_a_failed_run_resumes_with_what_is_left(tmp_path):
    backend = ScriptedScheduler(take=2, fail_with="the EKOS scheduler aborted")
    runner, spool, _ = make(tmp_path, backend)
    runner.run(runner.submit(job()))
    state = runner.store.load("e1")
    assert state.state == "failed" and "aborted" in state.reason and state.rows_done == {"0.0": 2}
    # Resubmitted as a new attempt of the same work (a restart after "started" resumes the same way).
    state.state = "started"
    runner.store.save(state)
    backend.take, backend.fail_with = None, None
    runner.run(runner.store.load("e1"))
    assert backend.contexts[1] == {"0.0": 2}
    after = runner.store.load("e1")
    assert after.state == "done" and after.rows_done == {"0.0": 2, "0.1": 1, "1.0": 1} and len(spool) == 4


def test_interrupt_stops_the_scheduler_and_parks(tmp_path):
    backend = ScriptedScheduler(take=1, block=True)
    runner, spool, events = make(tmp_path, backend)
    state = runner.submit(job())
    thread = threading.Thread(target=runner.run, args=(state,))
    thread.start()
    assert backend.exposing.wait(5)
    runner.interrupt("sky unsafe: rain")
    thread.join(10)
    final = runner.store.load("e1")
    assert final.state == "interrupted" and "rain" in final.reason and final.frames_done == 1
    assert backend.parked and len(spool) == 1
