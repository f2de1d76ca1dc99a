"""A private desktop for KStars in tests: an Xvfb display and a D-Bus session bus.

KStars itself is started by the code under test (the EKOS backend starts it on
this display and bus); stopping the desktop also ends any KStars still on the
bus, found by the bus address in its environment.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.servers import _PopenServer, _require, _which


def _free_display(start: int = 90) -> int:
    for n in range(start, start + 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


class KStarsDesktop(_PopenServer):
    kind = "kstars-desktop"
    start_timeout = 20.0

    def __init__(self, base_dir=None):
        self.display_number: int | None = None
        super().__init__(base_dir)

    @property
    def display(self) -> str:
        return f":{self.display_number}"

    @property
    def bus_address(self) -> str:
        return f"unix:path={self._dir / 'bus'}"

    @property
    def kstars_home(self) -> Path:
        return self._dir / "kstars-home"

    def _check_installed(self) -> None:
        self._xvfb = _require(_which("Xvfb"), "Xvfb", "xvfb")
        self._dbus = _require(_which("dbus-daemon"), "dbus-daemon", "dbus")
        _require(_which("kstars"), "kstars", "kstars")

    def _allocate_ports(self) -> None:
        self.display_number = _free_display()

    def _ports(self) -> list[int]:
        return [self.display_number] if self.display_number is not None else []

    def _prepare(self) -> None:
        self.kstars_home.mkdir()

    def _launch(self) -> None:
        bus_socket = self._dir / "bus"
        with open(self._dir / "xvfb.log", "ab") as out:
            self._xvfb_proc = subprocess.Popen([self._xvfb, self.display, "-screen", "0", "1280x1024x24", "-nolisten",
                                                "tcp", "-noreset"], stdin=subprocess.DEVNULL, stdout=out,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        self._spawn([self._dbus, "--session", "--nofork", "--nopidfile", f"--address={self.bus_address}"],
                    console="dbus.log")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self._alive():
                raise self._fail(f"the D-Bus daemon exited with code {self._proc.returncode}")
            if self._xvfb_proc.poll() is not None:
                raise self._fail(f"Xvfb exited with code {self._xvfb_proc.returncode}")
            if bus_socket.exists() and Path(f"/tmp/.X11-unix/X{self.display_number}").exists():
                return
            time.sleep(0.05)
        raise self._fail("Xvfb or the D-Bus daemon did not come up")

    def _pids(self) -> list[int]:
        pids = super()._pids()
        xvfb = getattr(self, "_xvfb_proc", None)
        if xvfb is not None and xvfb.poll() is None:
            pids.append(xvfb.pid)
        return pids

    def _after_kill(self) -> None:
        super()._after_kill()
        xvfb = getattr(self, "_xvfb_proc", None)
        if xvfb is not None:
            try:
                xvfb.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._xvfb_proc = None

    def kstars_processes(self) -> list[psutil.Process]:
        found = []
        wanted = f"DBUS_SESSION_BUS_ADDRESS={self.bus_address}"
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] != "kstars":
                continue
            try:
                with open(f"/proc/{proc.pid}/environ", "rb") as f:
                    if wanted.encode() in f.read().split(b"\0"):
                        found.append(proc)
            except OSError:
                continue
        return found

    def kill_kstars(self, sig: int = signal.SIGKILL) -> None:
        for proc in self.kstars_processes():
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        psutil.wait_procs(self.kstars_processes(), timeout=15)

    def _graceful_stop(self) -> None:
        self.kill_kstars(signal.SIGTERM)
        self.kill_kstars(signal.SIGKILL)
        xvfb = getattr(self, "_xvfb_proc", None)
        super()._graceful_stop()
        if xvfb is not None and xvfb.poll() is None:
            xvfb.terminate()
            try:
                xvfb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
