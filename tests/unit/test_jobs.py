"""Schedule jobs on the telescope node, with the simulator backend."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from astropy.io import fits

from common.config import load_config
from common.contracts import ScheduleJob
from node_telescope.backends import BackendError
from node_telescope.backends.simulator import SimulatorBackend
from node_telescope.jobs import JobRunner, JobStore
from node_telescope.spool import Spool


def schedule(job_id="night1", count=2, exposure=60.0) -> ScheduleJob:
    rows = [{"filter_name": "R", "exposure_s": exposure, "count": count},
            {"filter_name": "G", "exposure_s": exposure, "count": count}]
    return ScheduleJob(job_id=job_id, node="scope1", targets=[
        {"name": "M 31", "ra_deg": 10.68, "dec_deg": 41.27, "rows": rows},
        {"name": "M 42", "ra_deg": 83.82, "dec_deg": -5.39, "rows": rows[:1]}])


def make_runner(tmp_path, time_scale=10_000):
    config = load_config("telescope", None, simulator={"width": 200, "height": 160, "time_scale": time_scale})
    spool = Spool(tmp_path / "spool")
    events = []
    backend = SimulatorBackend(config)
    runner = JobRunner("scope1", JobStore(tmp_path / "spool" / "jobs"), backend, spool, events.append)
    backend.connect()
    return runner, spool, events


def wait_for_exposing(events, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not any(e.state == "exposing" for e in events) and time.monotonic() < deadline:
        time.sleep(0.02)


def headers(spool):
    return [fits.getheader(spool.frame_path(e.sha256)) for e in spool.entries()]


def test_job_runs_every_frame_in_order_then_parks(tmp_path):
    runner, spool, events = make_runner(tmp_path)
    state = runner.submit(schedule())
    runner.run(state)
    state = runner.store.load("night1")
    assert (state.state, state.frames_done, state.frame_total) == ("done", 6, 6)
    got = sorted((h["OBJECT"], h["FILTER"], h["EXPTIME"]) for h in headers(spool))
    assert got == sorted([("M 31", "R", 60.0)] * 2 + [("M 31", "G", 60.0)] * 2 + [("M 42", "R", 60.0)] * 2)
    kinds = [e.state for e in events]
    assert kinds[:3] == ["queued", "started", "slewing"] and kinds[-1] == "done"
    assert [e.frame_index for e in events if e.state == "frame"] == [1, 2, 3, 4, 5, 6]
    assert runner.backend.is_parked()
    # The same job id again is not run twice.
    assert runner.submit(schedule()).state == "done" and runner.store.unfinished() == []


def test_interrupt_aborts_the_exposure_parks_and_reports(tmp_path):
    runner, spool, events = make_runner(tmp_path, time_scale=20)  # 600 s exposures take 30 s
    runner.submit(schedule(count=3, exposure=600.0))
    runner.start()
    try:
        wait_for_exposing(events)
        started = time.monotonic()
        runner.interrupt("sky unsafe: rain")
        while runner.store.load("night1").state != "interrupted" and time.monotonic() - started < 15:
            time.sleep(0.02)
        assert time.monotonic() - started < 10.0, "the exposure ran on instead of being aborted"
    finally:
        runner.stop()
    state = runner.store.load("night1")
    assert state.state == "interrupted" and state.reason == "sky unsafe: rain" and state.frames_done == 0
    assert runner.backend.is_parked() and len(spool) == 0
    assert events[-1].state == "interrupted" and events[-1].reason == "sky unsafe: rain"


def test_resume_takes_only_the_frames_not_yet_taken(tmp_path):
    runner, spool, events = make_runner(tmp_path)
    state = runner.submit(schedule())
    state.frames_done, state.state = 3, "started"  # as a node killed after its third frame left it
    runner.store.save(state)
    [pending] = runner.store.unfinished()
    runner.run(pending)
    assert runner.store.load("night1").state == "done"
    assert [e.frame_index for e in events if e.state == "frame"] == [4, 5, 6]
    assert sorted((h["OBJECT"], h["FILTER"]) for h in headers(spool)) == [("M 31", "G"), ("M 42", "R"), ("M 42", "R")]
    assert events[1].reason == "resumed after restart"


def test_backend_error_fails_the_job_with_its_reason(tmp_path):
    runner, spool, events = make_runner(tmp_path)
    def dead_mount(*args):
        raise BackendError("mount did not answer in 60 s")

    runner.backend.slew = dead_mount
    runner.run(runner.submit(schedule()))
    state = runner.store.load("night1")
    assert state.state == "failed" and "did not answer" in state.reason


KILLED_NODE = """
import sys, time
from common.config import load_config
from common.contracts import ScheduleJob
from node_telescope.backends.simulator import SimulatorBackend
from node_telescope.jobs import JobRunner, JobStore
from node_telescope.spool import Spool
root = sys.argv[1]
config = load_config("telescope", None, simulator={"width": 200, "height": 160, "time_scale": 600})
spool = Spool(root + "/spool")
runner = JobRunner("scope1", JobStore(root + "/spool/jobs"), SimulatorBackend(config), spool,
                   lambda p: print(p.state, p.frame_index, flush=True))
if sys.argv[2] == "submit":
    runner.submit(ScheduleJob.model_validate_json(sys.argv[3]))
runner.start()
time.sleep(60)
"""


def test_node_killed_mid_job_resumes_without_losing_frames(tmp_path):
    job = schedule(count=4, exposure=60.0)  # 12 frames, 0.1 s each at time_scale 600
    env = {**os.environ}
    first = subprocess.Popen([sys.executable, "-c", KILLED_NODE, str(tmp_path), "submit", job.to_json()],
                             stdout=subprocess.PIPE, text=True, env=env)
    frames_seen = 0
    while frames_seen < 5:
        line = first.stdout.readline()
        frames_seen += line.startswith("frame ")
    first.send_signal(signal.SIGKILL)
    first.wait()
    first.stdout.close()
    before = JobStore(tmp_path / "spool" / "jobs").load("night1")
    assert before.state == "started" and 5 <= before.frames_done < 12
    second = subprocess.Popen([sys.executable, "-c", KILLED_NODE, str(tmp_path), "resume"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in second.stdout:
            if line.startswith("done"):
                break
    finally:
        second.kill()
        second.wait()
        second.stdout.close()
    after = JobStore(tmp_path / "spool" / "jobs").load("night1")
    assert after.state == "done" and after.frames_done == 12
    spool = Spool(tmp_path / "spool")
    # Every recorded frame is in the spool; at most the one frame in flight at the kill was taken twice.
    assert set(after.shas) <= {e.sha256 for e in spool.entries()}
    assert 12 <= len(spool) <= 13


def test_a_replanned_job_stops_the_running_one_without_parking_and_runs(tmp_path):
    runner, spool, events = make_runner(tmp_path, time_scale=20)  # 600 s exposures take 30 s
    runner.submit(schedule(count=3, exposure=600.0))
    runner.start()
    try:
        wait_for_exposing(events)
        parks = []
        park = runner.backend.park
        runner.backend.park = lambda: (parks.append(time.monotonic()), park())[1]
        replan = schedule(job_id="replan1", count=1, exposure=1.0).model_copy(update={"replaces": "night1"})
        runner.submit(replan)
        deadline = time.monotonic() + 15
        while runner.store.load("replan1").state != "done" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        runner.stop()
    old, new = runner.store.load("night1"), runner.store.load("replan1")
    assert (old.state, old.reason) == ("interrupted", "replaced by replan1")
    assert new.state == "done" and new.frames_done == 3
    assert len(parks) == 1  # only at the end of the new job: no park between the two
    assert [e.state for e in events if e.job_id == "night1"][-1] == "interrupted"


def test_a_replan_closes_a_queued_job_and_leaves_a_finished_one(tmp_path):
    runner, spool, events = make_runner(tmp_path)
    done = runner.submit(schedule(job_id="early", count=1, exposure=1.0))
    runner.run(done)
    runner.submit(schedule(job_id="later", count=1, exposure=1.0))  # queued, not started
    runner.submit(schedule(job_id="r1", count=1, exposure=1.0).model_copy(update={"replaces": "later"}))
    runner.submit(schedule(job_id="r2", count=1, exposure=1.0).model_copy(update={"replaces": "early"}))
    assert (runner.store.load("later").state, runner.store.load("later").reason) == ("interrupted", "replaced by r1")
    assert runner.store.load("early").state == "done"
    assert [s.job.job_id for s in runner.store.unfinished()] == ["r1", "r2"]
