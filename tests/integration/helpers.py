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
