"""Real servers owned by a test session: RabbitMQ, PostgreSQL, an S3 server, Mosquitto and indiserver.

Every server runs as a private process tree listening on 127.0.0.1 only, on free ports, with all
of its data, configuration and logs in a private temporary directory. Nothing here touches the
system services or the system configuration.

    with RabbitMQServer() as rmq:                 # start() ... stop()
        pika.BlockingConnection(pika.URLParameters(rmq.url))
        rmq.restart()                             # same port, same data: durable messages survive
        rmq.queue_depth("jobs")

Common API of the four classes:

    start()      start (again) and wait until the server really answers; returns self.
                 Raises ServerNotInstalled (names the Debian package) when a binary is missing,
                 ServerStartError (with the tail of the server's logs) when it does not come up.
    stop(cleanup=True)
                 stop gracefully (kill if that fails) and delete the private directory. A later
                 start() comes back on the same port(s) as a fresh, empty server; with
                 cleanup=False the directory is kept and a later start() resumes with the data.
    restart()    stop, then start on the SAME port(s) with the SAME data directory.
    kill()       SIGKILL the server's processes (a crash); the data directory is kept, so
                 start() afterwards recovers from it.
    running      True while the server's processes run.
    directory    the private directory (all logs are in it).
    startup_seconds  how long the last start() took.
    log_tail(n)  the last n lines of each of the server's log files.
    Context manager: ``with Server() as s:`` is start() ... stop().

Times measured on the reference machine (Debian 12, 2 cores, root), start() until verified:
    RabbitMQServer   start 4.0-4.7 s (rabbitmqctl wait, then a pika connection), stop 2.0-2.4 s
                     (the VM needs ~2 s to halt after RabbitMQ stopped), restart() ~6.9 s.
                     management=True: start about the same, but stop ~7.5 s (the management
                     statistics collector takes 5 s to stop), hence OFF by default.
    PostgresServer   first start 0.7-0.8 s (initdb --no-sync ~0.55 s), restart() ~0.1 s,
                     start after kill() ~0.06 s.
    S3Server         0.4-0.6 s (moto_server is a Python program importing moto).
    MosquittoServer  ~0.02 s.
    IndiServer       see its docstring.

Safety nets: an ``atexit`` handler stops every server still running when the Python process
exits, and each running server has a small watchdog process (same Python, a few MB) that waits
on a pipe from this process: if the test process dies without stopping the server (SIGKILL, a
crash), the pipe closes and the watchdog terminates exactly the processes this module started
(checked by pid *and* start time) and deletes the private directory. The shared Erlang port
mapper (epmd, port 4369) is never killed: other Erlang nodes may use it.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterable

import psutil

__all__ = [
    "ServerError",
    "ServerNotInstalled",
    "ServerStartError",
    "free_port",
    "RabbitMQServer",
    "PostgresServer",
    "S3Server",
    "MosquittoServer",
    "IndiServer",
]

# tests/netns_hosts.py runs servers inside a test-made network namespace, on all of that
# namespace's addresses (OBSY_TEST_SERVER_HOST=0.0.0.0); everywhere else: loopback only.
HOST = os.environ.get("OBSY_TEST_SERVER_HOST", "127.0.0.1")
KEEP_DIRS_ENV = "OBSY_KEEP_SERVER_DIRS"  # set to 1 to keep private dirs (logs) after stop()


class ServerError(RuntimeError):
    """A test server could not be operated."""


class ServerNotInstalled(ServerError):
    """A binary is missing; the message names the Debian package that provides it."""


class ServerStartError(ServerError):
    """The server did not come up; the message carries the tail of its logs."""


# --------------------------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------------------------

# 4369 is epmd; 35672-35682 are the distribution ports every rabbitmqctl invocation binds.
_RESERVED_PORTS = {4369, *range(35672, 35683)}
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and was not handed out before by this process."""
    with _ports_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((HOST, 0))
                port = s.getsockname()[1]
            if port not in _RESERVED_PORTS and port not in _handed_out:
                _handed_out.add(port)
                return port
    raise ServerError("could not find a free TCP port on 127.0.0.1")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------

_IS_ROOT = os.geteuid() == 0


def _start_time(pid: int) -> str | None:
    """The kernel start time of a live (non-zombie) process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _tree(pid: int, exclude_names: Iterable[str] = ("epmd",)) -> list[int]:
    """pid and all of its descendants, leaving out shared daemons such as epmd."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    out = []
    for p in procs:
        try:
            if p.name() in exclude_names:
                continue
        except psutil.Error:
            continue
        out.append(p.pid)
    return out


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids: Iterable[int], timeout: float) -> bool:
    stamps = {pid: _start_time(pid) for pid in pids}
    stamps = {pid: st for pid, st in stamps.items() if st is not None}
    deadline = time.monotonic() + timeout
    while True:
        stamps = {pid: st for pid, st in stamps.items() if _start_time(pid) == st}
        if not stamps:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _kill_hard(pids: list[int], timeout: float = 10.0) -> None:
    _signal_all(pids, signal.SIGKILL)
    _wait_gone(pids, timeout)


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 200 * lines))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# A watchdog per running server. It blocks reading its stdin (a pipe from this process). When
# this process stops the server normally it writes "disarm"; when this process dies without
# doing so the pipe reaches EOF and the watchdog terminates the recorded processes (only if
# pid and start time still match) and removes the private directory.
_WATCHDOG = r"""
import json, os, shutil, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
spec = json.loads(sys.argv[1])
try:
    data = sys.stdin.buffer.read()
except Exception:
    data = b""
if data.strip() == b"disarm":
    sys.exit(0)
def st(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return None if f[0] in ("Z", "X") else f[19]
procs = [(p, t) for p, t in spec["pids"] if st(p) == t]
for p, _ in procs:
    try:
        os.kill(p, signal.SIGTERM)
    except OSError:
        pass
end = time.time() + 8
while time.time() < end and any(st(p) == t for p, t in procs):
    time.sleep(0.1)
for p, t in procs:
    if st(p) == t:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
time.sleep(0.2)
if spec.get("dir") and not spec.get("keep"):
    shutil.rmtree(spec["dir"], ignore_errors=True)
"""


class _Watchdog:
    def __init__(self, pids: list[int], directory: Path | None):
        spec = {
            "pids": [[p, t] for p in pids if (t := _start_time(p)) is not None],
            "dir": str(directory) if directory else None,
            "keep": bool(os.environ.get(KEEP_DIRS_ENV)),
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _WATCHDOG, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
        )

    def disarm(self) -> None:
        try:
            self._proc.stdin.write(b"disarm")
            self._proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --------------------------------------------------------------------------------------------
# registry and atexit
# --------------------------------------------------------------------------------------------

_live: list["_Server"] = []
_live_lock = threading.Lock()
_OWNER_PID = os.getpid()


def _stop_all_at_exit() -> None:
    if os.getpid() != _OWNER_PID:  # a forked child must not stop its parent's servers
        return
    with _live_lock:
        servers = list(reversed(_live))
    for server in servers:
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            print(f"tests.servers: could not stop {server!r}: {exc}", file=sys.stderr)


atexit.register(_stop_all_at_exit)


# --------------------------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------------------------

_counter = itertools.count(1)


def _require(path: str | os.PathLike | None, what: str, package: str) -> str:
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return str(path)
    raise ServerNotInstalled(
        f"{what} not found ({path or 'not on PATH'}): install the Debian package '{package}' "
        f"(scripts/install-system.sh installs it)"
    )


def _which(name: str, *extra_dirs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in extra_dirs:
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


class _Server:
    kind = "server"
    start_timeout = 60.0

    def __init__(self, base_dir: str | os.PathLike | None = None):
        self._base_dir = str(base_dir) if base_dir else None
        self._dir: Path | None = None
        self._watchdog: _Watchdog | None = None
        self._n = next(_counter)
        self.startup_seconds: float | None = None
        self._check_installed()

    # -- to implement ---------------------------------------------------------------------
    def _check_installed(self) -> None:
        raise NotImplementedError

    def _allocate_ports(self) -> None:
        raise NotImplementedError

    def _ports(self) -> list[int]:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Create configuration and data in self._dir (first start only)."""

    def _launch(self) -> None:
        """Start the processes and wait until the server answers; raise ServerStartError."""
        raise NotImplementedError

    def _pids(self) -> list[int]:
        """The processes this server consists of (empty when not running)."""
        raise NotImplementedError

    def _graceful_stop(self) -> None:
        raise NotImplementedError

    def _log_files(self) -> list[Path]:
        return sorted(self._dir.glob("*.log")) if self._dir else []

    # -- public API -----------------------------------------------------------------------
    @property
    def directory(self) -> Path | None:
        return self._dir

    @property
    def running(self) -> bool:
        return bool(self._pids())

    def start(self):
        if self.running:
            return self
        first = self._dir is None
        if first:
            self._dir = Path(
                tempfile.mkdtemp(prefix=f"obsy-{self.kind}-{os.getpid()}-{self._n}-", dir=self._base_dir)
            )
            os.chmod(self._dir, 0o755)
            if not self._ports():  # a start() after stop() comes back on the same port(s)
                self._allocate_ports()
            with _live_lock:
                if self not in _live:
                    _live.append(self)
        t0 = time.monotonic()
        try:
            if first:
                self._prepare()
            try:
                self._launch()
            except ServerStartError:
                # A port taken by someone else between allocation and start: retry once with
                # fresh ports (never on a restart, which must keep its ports).
                self._kill_processes()
                if not first or all(_port_is_free(p) for p in self._ports()):
                    raise
                self._allocate_ports()
                self._reconfigure_ports()
                self._launch()
        except BaseException:
            self._kill_processes()
            if first:
                self._remove_dir()
            raise
        self.startup_seconds = time.monotonic() - t0
        self._watchdog = _Watchdog(self._pids(), self._dir)
        return self

    def stop(self, cleanup: bool = True) -> None:
        """Stop the server gracefully (kill it if that fails) and delete its private directory.

        A later start() comes back on the same port(s) but with a fresh, empty server.
        ``cleanup=False`` keeps the directory: a later start() then resumes with the data
        (like restart() in two steps, e.g. to simulate an outage of some seconds)."""
        try:
            if self.running:
                try:
                    self._graceful_stop()
                except Exception:
                    pass
                self._kill_processes()
        finally:
            self._disarm()
            if cleanup:
                self._remove_dir()

    def restart(self):
        """Stop, then start on the same port(s) with the same data directory."""
        if self._dir is None:
            return self.start()
        if self.running:
            try:
                self._graceful_stop()
            finally:
                self._kill_processes()
        self._disarm()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the server (a crash). The data directory stays: start() recovers from it."""
        self._kill_processes()
        self._disarm()

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in self._log_files():
            text = _tail(path, lines)
            if text.strip():
                parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts) or "(no log output)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        state = "running" if self._dir and self.running else "stopped"
        return f"<{type(self).__name__} {state} ports={self._ports_or_none()} dir={self._dir}>"

    # -- helpers --------------------------------------------------------------------------
    def _ports_or_none(self):
        try:
            return self._ports()
        except Exception:
            return None

    def _reconfigure_ports(self) -> None:
        self._prepare_config()

    def _prepare_config(self) -> None:
        pass

    def _kill_processes(self) -> None:
        pids = self._pids()
        if pids:
            _kill_hard(pids)
        self._after_kill()

    def _after_kill(self) -> None:
        pass

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.disarm()
            self._watchdog = None

    def _remove_dir(self) -> None:
        if self._dir is not None:
            if not os.environ.get(KEEP_DIRS_ENV):
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        with _live_lock:
            if self in _live:
                _live.remove(self)

    def _fail(self, message: str) -> "ServerStartError":
        return ServerStartError(f"{type(self).__name__}: {message}\n{self.log_tail()}")


class _PopenServer(_Server):
    """A server that runs in the foreground as our child (its own session)."""

    def __init__(self, base_dir=None):
        self._proc: subprocess.Popen | None = None
        self._port: int | None = None
        super().__init__(base_dir)

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._port

    def _spawn(self, argv: list[str], env: dict | None = None, console: str = "console.log",
               **popen_kwargs) -> None:
        with open(self._dir / console, "ab") as out:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                env=env,
                start_new_session=True,
                **popen_kwargs,
            )

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _pids(self) -> list[int]:
        if self._proc is None:
            return []
        if self._proc.poll() is not None:
            # the wrapper is gone; a daemon child may still run (reap and look)
            return []
        return _tree(self._proc.pid)

    def _after_kill(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._proc = None

    stop_signal = signal.SIGTERM

    def _graceful_stop(self) -> None:
        pids = self._pids()
        if self._proc is not None:
            self._proc.send_signal(self.stop_signal)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        _wait_gone(pids, 5)


# --------------------------------------------------------------------------------------------
# RabbitMQ
# --------------------------------------------------------------------------------------------

RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"


class RabbitMQServer(_PopenServer):
    """A private RabbitMQ 3.10 node (runs as root from /usr/lib/rabbitmq/bin, data owned by the
    ``rabbitmq`` user). ``management=True`` enables the management plugin on
    ``management_port`` (costs ~0.9 s at start and ~5 s at stop, hence off by default)."""

    kind = "rabbitmq"
    user = "guest"
    password = "guest"

    def __init__(self, management: bool = False, base_dir=None):
        self.management = management
        self.nodename = f"obsy-test-{os.getpid()}-{next(_counter)}@localhost"
        self._dist_port: int | None = None
        self._mgmt_port: int | None = None
        super().__init__(base_dir)

    # connection info
    @property
    def management_port(self) -> int | None:
        return self._mgmt_port if self.management else None

    @property
    def management_url(self) -> str | None:
        return f"http://{HOST}:{self._mgmt_port}/" if self.management else None

    @property
    def url(self) -> str:
        return f"amqp://{self.user}:{self.password}@{HOST}:{self._port}/%2F"

    @property
    def pidfile(self) -> Path:
        return self._dir / "rabbitmq.pid"

    def connection(self):
        import pika

        params = pika.URLParameters(self.url)
        params.socket_timeout = 5
        params.blocked_connection_timeout = 30
        return pika.BlockingConnection(params)

    def queue_depth(self, name: str) -> int:
        """Ready messages in queue ``name`` (passive declare; unacked ones are not counted).
        Raises LookupError when the queue does not exist."""
        import pika.exceptions

        conn = self.connection()
        try:
            ch = conn.channel()
            try:
                ok = ch.queue_declare(queue=name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code == 404:
                    raise LookupError(f"no queue {name!r}") from None
                raise
            return ok.method.message_count
        finally:
            if conn.is_open:
                conn.close()

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl -n <node> args...`` against this node; returns stdout."""
        res = subprocess.run(
            [self._ctl, "-n", self.nodename, *args],
            env=self._env(), cwd=self._dir, capture_output=True, text=True, timeout=timeout,
        )
        if res.returncode != 0:
            raise ServerError(f"rabbitmqctl {' '.join(args)} failed: {res.stdout}{res.stderr}")
        return res.stdout

    # implementation
    def _check_installed(self) -> None:
        self._server_bin = _require(f"{RABBITMQ_BIN}/rabbitmq-server", "rabbitmq-server", "rabbitmq-server")
        self._ctl = _require(f"{RABBITMQ_BIN}/rabbitmqctl", "rabbitmqctl", "rabbitmq-server")
        if _IS_ROOT:
            try:
                pwd.getpwnam("rabbitmq")
            except KeyError:
                raise ServerNotInstalled(
                    "user 'rabbitmq' missing: install the Debian package 'rabbitmq-server'"
                ) from None

    def _allocate_ports(self) -> None:
        self._port = free_port()
        self._dist_port = free_port()
        self._mgmt_port = free_port() if self.management else None

    def _ports(self) -> list[int]:
        return [p for p in (self._port, self._dist_port, self._mgmt_port) if p]

    def _env(self) -> dict:
        d = self._dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(d / "home"),
            LC_ALL="C.UTF-8",
            LANG="C.UTF-8",
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self._port),
            RABBITMQ_DIST_PORT=str(self._dist_port),
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_PID_FILE=str(d / "rabbitmq.pid"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
            RABBITMQ_CONFIG_FILES=str(d / "conf.d"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE="/dev/null",
            ERL_EPMD_ADDRESS=HOST,
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def _log_files(self) -> list[Path]:
        if not self._dir:
            return []
        return sorted((self._dir / "log").glob("*.log")) + sorted(self._dir.glob("*.log"))

    def _prepare(self) -> None:
        d = self._dir
        for sub in ("home", "mnesia", "log", "conf.d"):
            (d / sub).mkdir()
        cookie = d / "home" / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        os.chmod(cookie, 0o400)
        self._prepare_config()
        if _IS_ROOT:
            rmq = pwd.getpwnam("rabbitmq")
            for path in [d, *d.rglob("*")]:
                if path != cookie:  # the node and rabbitmqctl both run as root and read it
                    os.chown(path, rmq.pw_uid, rmq.pw_gid)

    def _prepare_config(self) -> None:
        d = self._dir
        lines = [
            f"listeners.tcp.default = {HOST}:{self._port}",
            "loopback_users = none",
            "log.console = false",
            "log.file.level = info",
        ]
        plugins = []
        if self.management:
            lines += [f"management.tcp.ip = {HOST}", f"management.tcp.port = {self._mgmt_port}"]
            plugins.append("rabbitmq_management")
        (d / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        (d / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")

    def _launch(self) -> None:
        env = self._env()
        if self.pidfile.exists():
            self.pidfile.unlink()
        # Foreground under our control (not -detached): early boot errors land in console.log.
        self._spawn([self._server_bin], env=env)
        waiter = subprocess.Popen(
            [self._ctl, "-n", self.nodename, "wait", "--timeout", str(int(self.start_timeout)),
             str(self.pidfile)],
            env=env, cwd=self._dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_timeout + 5
        try:
            while waiter.poll() is None:
                if not self._alive():
                    raise self._fail(f"node exited with code {self._proc.returncode} during boot")
                if time.monotonic() > deadline:
                    raise self._fail("timed out waiting for the node (rabbitmqctl wait)")
                time.sleep(0.05)
        finally:
            if waiter.poll() is None:
                waiter.kill()
            out = waiter.communicate()[0].decode("utf-8", "replace")
        if waiter.returncode != 0:
            raise self._fail(f"rabbitmqctl wait failed ({waiter.returncode}):\n{out}")
        # verify a real AMQP connection
        last = None
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                self.connection().close()
                return
            except Exception as exc:  # pika raises several kinds
                last = exc
                time.sleep(0.1)
        raise self._fail(f"AMQP connection to {self.url} failed: {last!r}")

    def _beam_pid(self) -> int | None:
        """The node's VM from the pidfile, if it is still ours (beam.smp running in our dir)."""
        if self._dir is None:
            return None
        try:
            pid = int(self.pidfile.read_text().strip())
            proc = psutil.Process(pid)
            if proc.name().startswith("beam") and proc.cwd() == str(self._dir) \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                return pid
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def _pids(self) -> list[int]:
        pids = super()._pids()
        beam = self._beam_pid()
        if beam and beam not in pids:
            pids += _tree(beam)
        return pids

    def _graceful_stop(self) -> None:
        pids = self._pids()
        if self.pidfile.exists():
            try:
                subprocess.run(
                    [self._ctl, "-n", self.nodename, "stop", str(self.pidfile)],
                    env=self._env(), cwd=self._dir, capture_output=True, timeout=60,
                )
            except subprocess.TimeoutExpired:
                pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _wait_gone(pids, 5)


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _pg_bindir() -> str:
    candidates = []
    if os.environ.get("OBSY_PG_BINDIR"):
        candidates.append(os.environ["OBSY_PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(
                subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
            )
        except (OSError, subprocess.SubprocessError):
            pass

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    for c in candidates:
        if c and all(os.access(os.path.join(c, b), os.X_OK) for b in ("initdb", "postgres")):
            return c
    raise ServerNotInstalled(
        "PostgreSQL server binaries (initdb, postgres) not found in "
        f"{candidates or '/usr/lib/postgresql/*/bin'}: install the Debian package 'postgresql' "
        "(scripts/install-system.sh installs it)"
    )


class PostgresServer(_PopenServer):
    """A private PostgreSQL cluster (trust auth, user ``postgres``, fsync off).

    ``url`` is an SQLAlchemy URL; ``dsn`` the same for psycopg/libpq. ``create_database()``
    returns the SQLAlchemy URL of a fresh, empty database."""

    kind = "postgres"
    user = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown

    def __init__(self, base_dir=None, settings: dict | None = None):
        self.settings = {"fsync": "off", **(settings or {})}
        super().__init__(base_dir)

    @property
    def socket_dir(self) -> Path:
        return self._dir

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{HOST}:{self._port}/{dbname}"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{HOST}:{self._port}/{dbname}"

    def connect(self, dbname: str = "postgres", autocommit: bool = True):
        import psycopg

        return psycopg.connect(self.dsn_for(dbname), autocommit=autocommit, connect_timeout=10)

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database (default name: test_<random>); return its SQLAlchemy URL."""
        from psycopg import sql

        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # implementation
    def _check_installed(self) -> None:
        self.bindir = _pg_bindir()

    def _allocate_ports(self) -> None:
        self._port = free_port()

    def _ports(self) -> list[int]:
        return [self._port] if self._port else []

    @property
    def _data(self) -> Path:
        return self._dir / "data"

    def _as_postgres(self) -> dict:
        if _IS_ROOT:  # initdb and postgres refuse to run as root
            return dict(user="postgres", group="postgres", extra_groups=[])
        return {}

    def _pg_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self._dir))
        return env

    def _prepare(self) -> None:
        if _IS_ROOT:
            pg = pwd.getpwnam("postgres")
            os.chown(self._dir, pg.pw_uid, pg.pw_gid)
        with open(self._dir / "initdb.log", "ab") as out:
            try:
                rc = subprocess.run(
                    [f"{self.bindir}/initdb", "-D", str(self._data), "-U", self.user,
                     "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self._dir,
                    env=self._pg_env(), timeout=120, **self._as_postgres(),
                ).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        if rc != 0:
            raise self._fail(f"initdb failed ({rc})")

    def _launch(self) -> None:
        # The postmaster runs as OUR child (not daemonised by pg_ctl): when it is killed we reap
        # it at once. A daemonised postmaster is re-parented to PID 1, which reaps late on these
        # machines; its zombie keeps the pid "alive" and the next start refuses the data dir.
        argv = [f"{self.bindir}/postgres", "-D", str(self._data), "-p", str(self._port),
                "-k", str(self._dir), "-c", f"listen_addresses={HOST}"]
        for k, v in self.settings.items():
            argv += ["-c", f"{k}={v}"]
        self._spawn(argv, env=self._pg_env(), console="postgres.log", **self._as_postgres())
        import psycopg

        last = None
        end = time.monotonic() + self.start_timeout
        while time.monotonic() < end:
            if not self._alive():
                raise self._fail(f"postgres exited with code {self._proc.returncode}")
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.02)
        raise self._fail(f"cannot connect to {self.dsn}: {last!r}")


# --------------------------------------------------------------------------------------------
# S3 (moto)
# --------------------------------------------------------------------------------------------


class S3Server(_PopenServer):
    """An S3-compatible server: ``moto_server`` from this Python environment.

    moto keeps everything IN MEMORY: restart() (and kill()+start()) come back on the same port
    with NO buckets and NO objects. It accepts any credentials."""

    kind = "s3"
    access_key = "obsy-test-access"
    secret_key = "obsy-test-secret"
    region = "us-east-1"

    @property
    def endpoint(self) -> str:
        """host:port, as the minio SDK wants it (use secure=False)."""
        return f"{HOST}:{self._port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self._port}"

    def client(self):
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                     secure=False, region=self.region)

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (default name: test-<random>) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.client().make_bucket(name)
        return name

    def remove_bucket(self, name: str) -> None:
        """Delete a bucket and everything in it."""
        client = self.client()
        for obj in client.list_objects(name, recursive=True):
            client.remove_object(name, obj.object_name)
        client.remove_bucket(name)

    def enforce_iam(self) -> None:
        """From the next request on, moto authenticates every request and authorises it by the
        caller's IAM policies (moto's "IAM-like access control"; the same counter the
        INITIAL_NO_AUTH_ACTION_COUNT environment variable sets, here set to 0 at runtime). Create the
        IAM users first: once this is on, only their keys work. A restart turns it off again."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset-auth", method="POST", data=b"0",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req, timeout=10).close()

    def iam_client(self, access_key: str | None = None, secret_key: str | None = None):
        import boto3

        return boto3.client("iam", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key)

    def reset(self) -> None:
        """Drop every bucket and object (moto's reset API)."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=10).close()

    def _check_installed(self) -> None:
        exe = Path(sys.executable).parent / "moto_server"
        if not exe.exists():
            exe = shutil.which("moto_server")
        if not exe or not os.access(exe, os.X_OK):
            raise ServerNotInstalled(
                f"moto_server not found next to {sys.executable}: pip install 'moto[server]>=5,<6' "
                "(the project's test extra)"
            )
        self._exe = str(exe)

    def _allocate_ports(self) -> None:
        self._port = free_port()

    def _ports(self) -> list[int]:
        return [self._port] if self._port else []

    def _launch(self) -> None:
        self._spawn([self._exe, "-H", HOST, "-p", str(self._port)], console="moto.log")
        end = time.monotonic() + self.start_timeout
        while time.monotonic() < end:
            if not self._alive():
                raise self._fail(f"moto_server exited with code {self._proc.returncode}")
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers HTTP: ready
            except OSError:
                time.sleep(0.05)
        raise self._fail("timed out waiting for moto_server")


# --------------------------------------------------------------------------------------------
# Mosquitto
# --------------------------------------------------------------------------------------------

# MQTT 3.1.1 CONNECT (clean session, keepalive 10 s, empty client id) and DISCONNECT
_MQTT_CONNECT = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 0])
_MQTT_DISCONNECT = bytes([0xE0, 0])


class MosquittoServer(_PopenServer):
    """A private Mosquitto 2 broker: no persistence, 127.0.0.1:``port``. Anonymous, unless given a
    ``password_file`` (and an ``acl_file``): then only those users, with those rights."""

    kind = "mosquitto"

    def __init__(self, base_dir=None, password_file=None, acl_file=None):
        self.password_file, self.acl_file = password_file, acl_file
        super().__init__(base_dir)

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self._port}"

    def _check_installed(self) -> None:
        self._exe = _require(_which("mosquitto", "/usr/sbin", "/usr/local/sbin"), "mosquitto", "mosquitto")

    def _allocate_ports(self) -> None:
        self._port = free_port()

    def _ports(self) -> list[int]:
        return [self._port] if self._port else []

    def _prepare(self) -> None:
        self._prepare_config()

    def _prepare_config(self) -> None:
        d = self._dir
        lines = [
            f"listener {self._port} {HOST}",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            "persistence false",
            f"pid_file {d / 'mosquitto.pid'}",
            f"log_dest file {d / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.password_file:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if _IS_ROOT:
            lines.append("user root")  # otherwise it drops to 'mosquitto' and cannot write here
        (d / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def _launch(self) -> None:
        self._spawn([self._exe, "-c", str(self._dir / "mosquitto.conf")])
        end = time.monotonic() + 20
        last = None
        while time.monotonic() < end:
            if not self._alive():
                raise self._fail(f"mosquitto exited with code {self._proc.returncode}")
            try:
                with socket.create_connection((HOST, self._port), timeout=2) as s:
                    s.sendall(_MQTT_CONNECT)
                    ack = s.recv(4)
                    # accepted, or (with a password file) refused as not authorised: it answers
                    if ack[:2] == b"\x20\x02" and ack[3:4] in (b"\x00", b"\x05"):
                        s.sendall(_MQTT_DISCONNECT)
                        return
                    last = f"unexpected CONNACK {ack!r}"
            except OSError as exc:
                last = exc
            time.sleep(0.01)
        raise self._fail(f"mosquitto does not answer MQTT CONNECT: {last!r}")


# --------------------------------------------------------------------------------------------
# INDI
# --------------------------------------------------------------------------------------------

INDI_SIMULATORS = ("indi_simulator_telescope", "indi_simulator_ccd", "indi_simulator_wheel",
                   "indi_simulator_focus")


class IndiServer(_PopenServer):
    """A private ``indiserver`` (INDI 1.9.9) running the given drivers (default: the telescope,
    CCD, filter wheel and focuser simulators) on ``port``.

    It has its own local socket (``-u``; without it a second indiserver dies on the shared
    abstract socket), its own driver FIFO (``-f``, see ``start_driver``/``stop_driver``) and a
    private HOME: drivers keep their state (park position, config) in ``$HOME/.indi``, so a
    restart() keeps it and a stop() forgets it. indiserver listens on all interfaces (it has no
    bind option); clients use 127.0.0.1. Ready when every driver has defined its CONNECTION
    property in answer to ``<getProperties version='1.7'/>`` (about 0.2-0.5 s)."""

    kind = "indi"
    start_timeout = 30.0

    def __init__(self, drivers: Iterable[str] = INDI_SIMULATORS, base_dir=None):
        self.drivers = list(drivers)
        super().__init__(base_dir)

    @property
    def home(self) -> Path:
        return self._dir / "home"

    @property
    def fifo(self) -> Path:
        return self._dir / "drivers.fifo"

    def _check_installed(self) -> None:
        self._exe = _require(_which("indiserver"), "indiserver", "indi-bin")
        self._driver_exes = [_require(_which(d), d, "indi-bin") if "@" not in d else d for d in self.drivers]

    def _allocate_ports(self) -> None:
        self._port = free_port()

    def _ports(self) -> list[int]:
        return [self._port] if self._port else []

    def _prepare(self) -> None:
        (self.home / ".indi").mkdir(parents=True, exist_ok=True)

    def _launch(self) -> None:
        if self.fifo.exists():
            self.fifo.unlink()
        os.mkfifo(self.fifo)
        env = {**os.environ, "HOME": str(self.home)}
        self._spawn([self._exe, "-v", "-p", str(self._port), "-u", str(self._dir / "indiserver.sock"),
                     "-f", str(self.fifo), *self._driver_exes], env=env, console="indiserver.log")
        deadline = time.monotonic() + self.start_timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            if not self._alive():
                raise self._fail(f"indiserver exited with code {self._proc.returncode}")
            try:
                devices = self.connected_devices(timeout=1.0)
                if len(devices) >= len(self.drivers):
                    return
                last = f"devices defined so far: {sorted(devices)}"
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        raise self._fail(f"indiserver does not answer getProperties with every driver: {last}")

    def connected_devices(self, timeout: float = 1.0) -> set[str]:
        """Names of the devices that define CONNECTION now (one getProperties round trip)."""
        import re

        found: set[str] = set()
        with socket.create_connection((HOST, self._port), timeout=timeout) as s:
            s.sendall(b"<getProperties version='1.7'/>\n")
            end = time.monotonic() + timeout
            data = b""
            while time.monotonic() < end and len(found) < len(self.drivers):
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
                for m in re.finditer(rb"<defSwitchVector\s[^>]*>", data):
                    tag = m.group(0)
                    if re.search(rb"name=['\"]CONNECTION['\"]", tag):
                        dev = re.search(rb"device=['\"]([^'\"]*)['\"]", tag)
                        if dev:
                            found.add(dev.group(1).decode())
        return found

    def getprop(self, spec: str = "*.*.*", timeout: float = 5.0) -> dict[str, str]:
        """``indi_getprop`` against this server: {'Device.PROP.ELEMENT': 'value'}. A fully named
        element returns at once; a wildcard (``*``) always waits the whole timeout."""
        out = subprocess.run(["indi_getprop", "-h", HOST, "-p", str(self._port), "-t", str(max(1, int(timeout))),
                              spec], capture_output=True, text=True, timeout=timeout + 10)
        values = {}
        for line in out.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        return values

    def setprop(self, spec: str, timeout: float = 5.0) -> None:
        """``indi_setprop`` against this server, e.g. ``'Telescope Simulator.TELESCOPE_PARK.PARK=On'``."""
        subprocess.run(["indi_setprop", "-h", HOST, "-p", str(self._port), "-t", str(max(1, int(timeout))), spec],
                       check=True, capture_output=True, timeout=timeout + 10)

    def start_driver(self, driver: str) -> None:
        """Start one more driver through the FIFO (indiserver's dynamic driver start)."""
        with open(self.fifo, "w") as f:
            f.write(f"start {self._driver_path(driver)}\n")

    def stop_driver(self, driver: str) -> None:
        """Stop a running driver through the FIFO: its devices disappear from the server."""
        with open(self.fifo, "w") as f:
            f.write(f"stop {self._driver_path(driver)}\n")

    @staticmethod
    def _driver_path(driver: str) -> str:
        # indiserver names a driver by the exact string it was started with (here: the full path).
        return driver if "/" in driver or "@" in driver else (_which(driver) or driver)
