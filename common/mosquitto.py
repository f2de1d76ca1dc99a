"""A private Mosquitto for ``obsy demo``: anonymous, loopback only, no persistence, a free port.

The demo's master publishes its live topics to it and the demo's remote site reads them, so a
demo user sees the public site update as it would in production. Without the ``mosquitto``
program (Debian package ``mosquitto``) the demo runs without a broker and says so.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"
# MQTT 3.1.1 CONNECT (clean session, keepalive 10 s, empty client id): the readiness probe
_CONNECT = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 0])


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (str(p) for p in (Path("/usr/sbin/mosquitto"), Path("/usr/local/sbin/mosquitto")) if os.access(p, os.X_OK)),
        None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class PrivateMosquitto:
    def __init__(self, directory: Path, executable: str):
        self.directory = Path(directory)
        self.executable = executable
        self.port = 0
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 10.0) -> "PrivateMosquitto":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        lines = [f"listener {self.port} {HOST}", "allow_anonymous true", "persistence false",
                 f"log_dest file {self.directory / 'mosquitto.log'}"]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it switches to user 'mosquitto', who cannot write here
        conf = self.directory / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._proc = subprocess.Popen([self.executable, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with code {self._proc.returncode}; see "
                                   f"{self.directory / 'mosquitto.log'}")
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not answer on {HOST}:{self.port} within {timeout_s:g} s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(_CONNECT)
                return sock.recv(4)[:1] == b"\x20"  # CONNACK
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = None
