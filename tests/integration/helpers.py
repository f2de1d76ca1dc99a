"""Running real `obsy` processes against the test-owned servers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

OBSY = str(Path(sys.executable).with_name("obsy"))


def s3_and_broker_sections(s3, bucket: str, amqp_url: str) -> str:
    return (f'[store]\nkind = "s3"\nendpoint = "{s3.endpoint}"\naccess_key = "{s3.access_key}"\n'
            f'secret_key = "{s3.secret_key}"\nbucket = "{bucket}"\nsecure = false\n'
            f'[broker]\nkind = "rabbitmq"\nurl = "{amqp_url}"\n')


def private_env(tmp_path: Path) -> dict:
    return {**os.environ, "OBSY_CONFIG_DIR": str(tmp_path / "cfg"), "OBSY_DATA_DIR": str(tmp_path / "data")}


def start_obsy(args, log: Path, env) -> subprocess.Popen:
    # Own session, so a SIGKILL can take the whole process group down at once.
    return subprocess.Popen([OBSY, *args], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def run_obsy(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([OBSY, *args], check=True, env=env, capture_output=True, text=True)


def stop_group(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=30) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def print_log_tails(folder: Path, lines: int = 15) -> None:
    for log in sorted(folder.iterdir()):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        sys.stdout.write(f"--- {log.name} (tail)\n" + "\n".join(tail) + "\n")


def start_master_worker(tmp_path: Path, db_url: str, sections: str, logs: Path, env: dict,
                        processes: int = 1, threads: int = 2) -> subprocess.Popen:
    """Write the master's config, migrate its database and start `obsy master worker`."""
    config = tmp_path / "master.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n' + sections
                      + f"[worker]\nprocesses = {processes}\nthreads = {threads}\n")
    run_obsy(["master", "migrate", "--config", str(config)], env)
    return start_obsy(["master", "worker", "--config", str(config)], logs / "worker.log", env)


class JobWatcher:
    """Collects the telescope nodes' job progress events from the real broker."""

    def __init__(self, amqp_url: str, queue_name: str):
        from common import names
        from common.events import RabbitEventBus

        self.progress: list = []
        self.bus = RabbitEventBus(amqp_url)
        self.bus.subscribe([names.JOB_PROGRESS_PATTERN], lambda key, message: self.progress.append(message),
                           queue_name=queue_name)

    def states(self, job_id: str) -> list[str]:
        return [p.state for p in list(self.progress) if p.job_id == job_id]

    def last(self, job_id: str, state: str):
        return [p for p in list(self.progress) if p.job_id == job_id and p.state == state][-1]

    def close(self) -> None:
        self.bus.close()


def ccd_exposure_left(indiserver, camera: str = "CCD Simulator") -> float:
    key = f"{camera}.CCD_EXPOSURE.CCD_EXPOSURE_VALUE"
    return float(indiserver.getprop(key)[key])


def rain_interrupts_the_job(indiserver, watcher: "JobWatcher", job_id: str, within_s: float,
                            mount: str = "Telescope Simulator") -> None:
    """Publish rain; the job must be interrupted within ``within_s`` with the mount parked and the
    camera no longer exposing, before any frame of it was taken."""
    from common import names
    from common.contracts import SafetyState

    watcher.bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="unsafe", reasons=["rain"]))
    t0 = time.monotonic()
    wait_for(lambda: "interrupted" in watcher.states(job_id), max(60.0, within_s + 30), f"{job_id} interrupted")
    stopped = watcher.last(job_id, "interrupted")
    assert "rain" in stopped.reason and stopped.frame_index == 0
    assert time.monotonic() - t0 < within_s, "the exposure was not aborted: the job ran on"
    assert indiserver.getprop(f"{mount}.TELESCOPE_PARK.PARK") == {f"{mount}.TELESCOPE_PARK.PARK": "On"}
    assert ccd_exposure_left(indiserver) == 0, "the camera is still exposing"


def ekos_settings(desktop, indi_port: int, **extra) -> dict:
    """[ekos] settings for a node whose KStars runs on the test's desktop against ``indi_port``."""
    return {"dbus_address": desktop.bus_address, "display": desktop.display, "kstars_home": str(desktop.kstars_home),
            "create_profile": True, "profile": "OBSY test", "indi_port": indi_port, "enforce_twilight": False,
            "filter_aliases": ["R=Red", "B=Blue"], "call_timeout_s": 4.0, **extra}
