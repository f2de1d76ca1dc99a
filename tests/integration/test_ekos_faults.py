"""The EKOS backend when KStars is missing, never answers, hangs or crashes, and when the node is
killed mid-job: clear errors within bounded times, and no frame lost.

KStars 3.6 runs under Xvfb on a private D-Bus session (the ``kstars_desktop`` fixture); the
fakes below stand in for a KStars that will not start, never for a working one.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from common.config import TelescopeConfig
from common.contracts import ScheduleJob
from node_telescope.backends import BackendError
from node_telescope.backends.ekos import EkosBackend
from node_telescope.jobs import JobRunner, JobStore
from node_telescope.spool import Spool
from .helpers import ekos_settings, wait_for


def ekos_config(desktop, indi_port: int, **extra) -> TelescopeConfig:
    return TelescopeConfig(backend="ekos", ekos=ekos_settings(desktop, indi_port, **extra))


def job(job_id: str, exposure_s: float, count: int) -> ScheduleJob:
    rows = [{"filter_name": "R", "exposure_s": exposure_s, "count": count},
            {"filter_name": "B", "exposure_s": exposure_s, "count": count}]
    return ScheduleJob(job_id=job_id, node="scope1", park_at_end=False, targets=[
        {"name": "M 81", "ra_deg": 148.888, "dec_deg": 69.065, "rows": rows},
        {"name": "M 82", "ra_deg": 148.968, "dec_deg": 69.680, "rows": rows}])


def fake_kstars(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def test_kstars_missing_exiting_or_never_answering_fails_clearly_and_in_time(kstars_desktop, tmp_path):
    kstars_desktop.kill_kstars()
    cases = [
        ("kstars-not-installed", "KStars is not installed", 2),
        (fake_kstars(tmp_path, "exits", "import sys\nsys.exit(3)\n"), "exited with code 3", 5),
        (fake_kstars(tmp_path, "sleeps", "import time\ntime.sleep(60)\n"), "did not answer on D-Bus", 8),
    ]
    for command, message, limit in cases:
        backend = EkosBackend(ekos_config(kstars_desktop, 1, kstars_command=command, start_timeout_s=3.0),
                              tmp_path / "ekos")
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=message):
            backend.connect()
        assert time.monotonic() - t0 < limit, command
        backend.close()


def test_a_kstars_that_takes_its_name_but_never_answers_is_reported(kstars_desktop, tmp_path):
    kstars_desktop.kill_kstars()
    # Holds org.kde.kstars on the bus and answers nothing: what a hung KStars looks like.
    squatter = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from jeepney import message_bus
        from jeepney.io.blocking import open_dbus_connection, Proxy
        conn = open_dbus_connection("{kstars_desktop.bus_address}")
        Proxy(message_bus, conn).RequestName("org.kde.kstars")
        print("owned", flush=True)
        time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout.readline().strip() == "owned"
        backend = EkosBackend(ekos_config(kstars_desktop, 1, call_timeout_s=2.0), tmp_path / "ekos")
        t0 = time.monotonic()
        with pytest.raises(BackendError, match="no answer within 2 s"):
            backend.connect()
        assert time.monotonic() - t0 < 10
        backend.close()
    finally:
        squatter.kill()
        squatter.wait()
        squatter.stdout.close()


def run_in_thread(runner: JobRunner, state):
    thread = threading.Thread(target=runner.run, args=(state,), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_kstars_crash_or_hang_mid_job_fails_the_job_in_bounded_time(fault, kstars_desktop, ekos_indiserver, tmp_path):
    kstars_desktop.kill_kstars()
    backend = EkosBackend(ekos_config(kstars_desktop, ekos_indiserver.port, park_timeout_s=60.0), tmp_path / "ekos")
    events = []
    runner = JobRunner("scope1", JobStore(tmp_path / "jobs"), backend, Spool(tmp_path / "spool"), events.append)
    state = runner.submit(job(f"{fault}-1", exposure_s=30, count=1))
    thread = run_in_thread(runner, state)
    stopped = []
    try:
        wait_for(lambda: any(e.state == "exposing" for e in events) or not thread.is_alive(), 180, "EKOS exposing")
        assert thread.is_alive(), [(e.state, e.reason) for e in events]
        (kstars,) = kstars_desktop.kstars_processes()
        t0 = time.monotonic()
        os.kill(kstars.pid, signal.SIGKILL if fault == "crash" else signal.SIGSTOP)
        stopped.append(kstars.pid)
        wait_for(lambda: any(e.state == "failed" for e in events), 90, "the job failed")
        failed = next(e for e in events if e.state == "failed")
        # The failure is known at once; the park that follows (a new KStars after a crash) comes after.
        first_reason_at = time.monotonic() - t0
        expected = "crashed" if fault == "crash" else "does not answer"
        assert expected in failed.reason, failed.reason
        assert first_reason_at < 90
        thread.join(120)
        assert not thread.is_alive()
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        runner.stop()
        backend.close()
        kstars_desktop.kill_kstars()


KILLED_NODE = """
import json, sys, time
from common.config import TelescopeConfig
from common.contracts import ScheduleJob
from node_telescope.backends.ekos import EkosBackend
from node_telescope.jobs import JobRunner, JobStore
from node_telescope.spool import Spool
root, mode, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
backend = EkosBackend(TelescopeConfig(backend="ekos", ekos=config), root + "/ekos")
runner = JobRunner("scope1", JobStore(root + "/jobs"), backend, Spool(root + "/spool"),
                   lambda p: print(p.state, p.frame_index, p.reason, flush=True))
if mode == "submit":
    runner.submit(ScheduleJob.model_validate_json(sys.argv[4]))
runner.start()
time.sleep(600)
"""


def test_node_killed_mid_job_resumes_and_loses_no_frame(kstars_desktop, ekos_indiserver, tmp_path):
    kstars_desktop.kill_kstars()
    config = ekos_config(kstars_desktop, ekos_indiserver.port).ekos.model_dump()
    the_job = job("killed-1", exposure_s=1, count=2)  # 8 frames
    args = [sys.executable, "-c", KILLED_NODE, str(tmp_path), "submit", __import__("json").dumps(config),
            the_job.to_json()]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    second = None
    try:
        frames = 0
        for line in first.stdout:
            frames += line.startswith("frame ")
            assert not line.startswith(("failed", "done")), line
            if frames == 2:
                break
        first.send_signal(signal.SIGKILL)  # the KStars it started keeps running the EKOS scheduler
        first.wait()
        before = JobStore(tmp_path / "jobs").load("killed-1")
        assert before.state == "started" and 2 <= before.frames_done < 8
        time.sleep(3)  # EKOS captures on while no node is watching
        second = subprocess.Popen([sys.executable, "-c", KILLED_NODE, str(tmp_path), "resume",
                                   __import__("json").dumps(config)], stdout=subprocess.PIPE, text=True)
        finished = None
        for line in second.stdout:
            if line.startswith(("done", "failed")):
                finished = line
                break
        assert finished and finished.startswith("done"), finished
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()
                proc.stdout.close()
        kstars_desktop.kill_kstars()
    after = JobStore(tmp_path / "jobs").load("killed-1")
    assert after.state == "done" and after.rows_done == {"0.0": 2, "0.1": 2, "1.0": 2, "1.1": 2}
    captured = sorted(p for p in (tmp_path / "ekos" / "killed-1").rglob("*.fits"))
    spooled = {e.sha256 for e in Spool(tmp_path / "spool").entries()}
    # Every frame EKOS wrote, in whichever run, is in the spool exactly once, and the job counted 8.
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in captured} == spooled
    assert len(spooled) == len(captured) == after.frames_done >= 8
