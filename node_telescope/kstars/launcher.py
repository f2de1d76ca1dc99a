"""Start KStars for the node, or attach to the one already on the session bus.

When OBSY starts KStars it first makes the KStars home fit for unattended
nights: no first-run wizard or tips, no EkosLive, Ekos kept connected after
the scheduler's shutdown (so the mount's park state stays readable), and no
"remember job progress" (OBSY tracks progress itself and gives each run its
own capture folder). It can also create the Ekos remote profile pointing at
the node's indiserver: KStars 3.6 cannot add profiles over D-Bus.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from .dbus import DBusFailure, SessionBus

log = logging.getLogger(__name__)

# (group, key, value) every OBSY-started KStars gets; other settings are left alone.
UNATTENDED_SETTINGS = (
    ("GUI", "RunStartupWizard", "false"),
    ("TipOfDay", "RunOnStart", "false"),
    ("Ekos", "AutoStartEkosLive", "false"),
    ("Scheduler", "StopEkosAfterShutdown", "false"),
    ("Scheduler", "RememberJobProgress", "false"),
)


class KStarsError(Exception):
    """KStars is missing, will not start, or does not answer."""


def set_kconfig_values(path: Path, values) -> None:
    """Set ``key=value`` in ``[group]`` of a KDE config file, keeping every other line as it is."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for group, key, value in values:
        header = f"[{group}]"
        try:
            start = lines.index(header)
        except ValueError:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [header, f"{key}={value}"]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        for i in range(start + 1, end):
            if lines[i].split("=", 1)[0].strip() == key:
                lines[i] = f"{key}={value}"
                break
        else:
            insert_at = end
            while insert_at > start + 1 and not lines[insert_at - 1].strip():
                insert_at -= 1
            lines.insert(insert_at, f"{key}={value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".obsy-tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def userdb_path(home: Path) -> Path:
    return home / ".local" / "share" / "kstars" / "userdb.sqlite"


def ensure_remote_profile(db: Path, name: str, host: str, port: int, drivers: list[tuple[str, str]]) -> str:
    """Create (or re-point) an Ekos profile that connects to a remote indiserver, with its
    drivers as (role, label) pairs. Returns what it did."""
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT id, host, port FROM profile WHERE name = ?", (name,)).fetchone()
            if row is None:
                cursor = conn.execute("INSERT INTO profile (name, host, port, autoconnect, portselector) "
                                      "VALUES (?, ?, ?, 1, 0)", (name, host, port))
                profile_id, what = cursor.lastrowid, f"created Ekos profile {name!r} → {host}:{port}"
            else:
                profile_id, what = row[0], f"Ekos profile {name!r} → {host}:{port} updated"
                conn.execute("UPDATE profile SET host = ?, port = ? WHERE id = ?", (host, port, profile_id))
            conn.execute("DELETE FROM driver WHERE profile = ?", (profile_id,))
            conn.executemany("INSERT INTO driver (label, role, profile) VALUES (?, ?, ?)",
                             [(label, role, profile_id) for role, label in drivers])
            return f"{what} with {', '.join(label for _, label in drivers)}"
    except sqlite3.Error as exc:
        raise KStarsError(f"cannot write the Ekos profile into {db}: {exc}") from None


def _answers_profiles(bus: SessionBus) -> bool:
    try:
        bus.call("/KStars/Ekos", "org.kde.kstars.Ekos", "getProfiles", timeout_s=2)
        return True
    except DBusFailure:
        return False


class KStarsLauncher:
    """Owns the KStars process when the node started it; attaches otherwise."""

    def __init__(self, config, log_path: Path):
        self.config = config
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None

    @property
    def home(self) -> Path:
        return Path(self.config.kstars_home).expanduser() if self.config.kstars_home else Path.home()

    @property
    def started_here(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure(self, bus: SessionBus) -> str:
        """KStars on ``bus``, started if needed. Returns 'attached' or 'started'."""
        try:
            if bus.has_owner():
                return "attached"
        except DBusFailure as exc:
            raise KStarsError(str(exc)) from None
        if not self.config.start_kstars:
            raise KStarsError(f"KStars is not running on the D-Bus session bus {bus.address} "
                              "and ekos.start_kstars is false")
        executable = shutil.which(self.config.kstars_command)
        if executable is None:
            raise KStarsError(f"KStars is not installed: {self.config.kstars_command!r} is not on the PATH "
                              "(Debian package kstars, or set ekos.kstars_command)")
        display = self.config.display or os.environ.get("DISPLAY", "")
        if not display:
            raise KStarsError("no X display for KStars: set ekos.display (e.g. an Xvfb display such as :99)")
        self._prepare_home(executable, display, bus)
        self._start(executable, display, bus)
        return "started"

    def _prepare_home(self, executable: str, display: str, bus: SessionBus) -> None:
        set_kconfig_values(self.home / ".config" / "kstarsrc", UNATTENDED_SETTINGS)
        if not self.config.create_profile:
            return
        db = userdb_path(self.home)
        if not db.exists():
            # KStars creates its user database with its own schema on first start.
            log.info("first start of KStars in %s: letting it create its user database", self.home)
            self._start(executable, display, bus)
            self.stop()
            if not db.exists():
                raise KStarsError(f"KStars started but did not create {db} within {self.config.start_timeout_s:g} s")
        log.info(ensure_remote_profile(db, self.config.profile, self.config.indi_host, self.config.indi_port,
                                       self.config.driver_roles()))

    def _start(self, executable: str, display: str, bus: SessionBus) -> None:
        env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": bus.address}
        if self.config.kstars_home:
            env["HOME"] = str(self.home)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen([executable], stdout=out, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise KStarsError(f"KStars exited with code {code} while starting: {self._log_tail()}")
            try:
                # KStars takes its bus name early, then loads its catalogues and database
                # before Ekos answers.
                if bus.has_owner() and _answers_profiles(bus):
                    log.info("KStars started (pid %d) on display %s", self.proc.pid, display)
                    return
            except DBusFailure as exc:
                self.stop()
                raise KStarsError(str(exc)) from None
            time.sleep(0.25)
        pid = self.proc.pid
        self.stop()
        raise KStarsError(f"KStars (pid {pid}) did not answer on D-Bus as org.kde.kstars within "
                          f"{self.config.start_timeout_s:g} s: {self._log_tail()}")

    def _log_tail(self, lines: int = 6) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return " | ".join(text) or "(empty log)"

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the KStars this launcher started (SIGTERM, then SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
