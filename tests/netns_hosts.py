"""Separate test hosts on this machine: network namespaces on a private bridge, each with an sshd.

    with NetnsHosts(["master", "scope"], workdir) as hosts:
        hosts.address("master")                  # 10.X.Y.2, reachable from every namespace
        hosts.run("master", ["ip", "addr"])      # a command inside the host's namespace
        hosts.ssh_vars                           # Ansible connection variables (real SSH as root)

Each host is a network namespace with a veth pair whose outer end is on a bridge in this
(the control host's) namespace; the bridge has ``gateway`` (10.X.Y.1), host ``n`` has
10.X.Y.(n+2). No route leads anywhere else and nothing is forwarded: the hosts reach each other
and the control host, nothing outside. Each host runs its own sshd (a throw-away ed25519 host
key, listening on the host's address only, root login with the test's key only); the host keys
are written to a private known_hosts, so Ansible checks them.

The namespaces share this machine's filesystem and users: give each host its own root prefix.
On exit every process left in a namespace (all started through it) is killed by pid, then the
namespaces, veths and the bridge are deleted. Needs root, iproute2 and openssh-server.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

SSHD = "/usr/sbin/sshd"


class NetnsUnavailable(RuntimeError):
    """Network namespaces, veth pairs or sshd cannot be used on this machine."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise NetnsUnavailable(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res


def _free_subnet() -> str:
    """A 10.X.Y prefix that no route of this machine covers."""
    routes = _ip("-4", "route", "show", "table", "all").stdout
    for _ in range(50):
        prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        if f"{prefix}." not in routes and " 10.0.0.0/8" not in routes:
            return prefix
    raise NetnsUnavailable("no free 10.x.y.0/24 subnet")


class NetnsHosts:
    def __init__(self, names: list[str], workdir: Path):
        self.names = list(names)
        self.workdir = Path(workdir)
        tag = uuid.uuid4().hex[:6]
        self.tag = tag
        self.bridge = f"obsy{tag}br"
        self.prefix = _free_subnet()
        self.gateway = f"{self.prefix}.1"
        self.namespaces = {name: f"obsy-{tag}-{name}" for name in self.names}
        self.key = self.workdir / "id_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self._sshd: dict[str, subprocess.Popen] = {}
        self._created: list[tuple[str, str]] = []  # ("netns"|"link", name), for cleanup

    # -- addresses and commands -----------------------------------------------------------
    def address(self, name: str) -> str:
        return f"{self.prefix}.{self.names.index(name) + 2}"

    def netns_argv(self, name: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[name], *argv]

    def run(self, name: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 120)
        return subprocess.run(self.netns_argv(name, argv), **kwargs)

    def popen(self, name: str, argv: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.netns_argv(name, argv), start_new_session=True, **kwargs)

    @property
    def ssh_vars(self) -> dict:
        """Inventory variables for a real SSH connection (as root, host keys checked)."""
        return {
            "ansible_connection": "ssh",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes "
                                       "-o IdentitiesOnly=yes -o BatchMode=yes",
        }

    # -- setup ------------------------------------------------------------------------------
    def start(self) -> "NetnsHosts":
        for tool in ("ip", SSHD, "ssh-keygen"):
            if not shutil.which(tool):
                raise NetnsUnavailable(f"{tool} not found (Debian packages iproute2, openssh-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._make_network()
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "obsy-test", "-f", str(self.key)],
                           check=True, capture_output=True, timeout=30)
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
            for name in self.names:
                self._start_sshd(name)
            for name in self.names:
                self._wait_ssh(name)
        except BaseException:
            self.stop()
            raise
        return self

    def _make_network(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        self._created.append(("link", self.bridge))
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for name in self.names:
            ns = self.namespaces[name]
            outer, inner = f"obsy{self.tag}{self.names.index(name)}o", f"obsy{self.tag}{self.names.index(name)}i"
            _ip("netns", "add", ns)
            self._created.append(("netns", ns))
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            self._created.append(("link", outer))
            _ip("link", "set", inner, "netns", ns)
            _ip("link", "set", outer, "master", self.bridge)
            _ip("link", "set", outer, "up")
            for args in (("link", "set", "lo", "up"), ("addr", "add", f"{self.address(name)}/24", "dev", inner),
                         ("link", "set", inner, "up")):
                _ip("-n", ns, *args)

    def _start_sshd(self, name: str) -> None:
        d = self.workdir / f"sshd-{name}"
        d.mkdir()
        host_key = d / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(host_key)],
                       check=True, capture_output=True, timeout=30)
        public = host_key.with_suffix(".pub").read_text().split()
        with self.known_hosts.open("a") as f:
            f.write(f"{self.address(name)} {public[0]} {public[1]}\n")
        shutil.copy(self.key.with_suffix(".pub"), d / "authorized_keys")
        config = d / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {self.address(name)}",
            f"HostKey {host_key}",
            f"PidFile {d / 'sshd.pid'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the key files live under the test's temporary directory
            "MaxSessions 50",
            "MaxStartups 50",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
        ]) + "\n")
        log = (d / "sshd.log").open("ab")
        self._sshd[name] = self.popen(name, [SSHD, "-D", "-e", "-f", str(config)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def _wait_ssh(self, name: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self._sshd[name].poll() is not None:
                break
            try:
                with socket.create_connection((self.address(name), 22), timeout=2) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        log = (self.workdir / f"sshd-{name}" / "sshd.log").read_text(errors="replace")
        raise NetnsUnavailable(f"sshd of {name} does not answer ({last!r}):\n{log[-2000:]}")

    # -- cleanup ----------------------------------------------------------------------------
    def pids(self, name: str) -> list[int]:
        res = _ip("netns", "pids", self.namespaces[name], check=False)
        return [int(p) for p in res.stdout.split()]

    def stop(self) -> None:
        for kind, name in reversed(self._created):
            if kind == "netns":
                self._kill_all_in(name)
        for kind, name in reversed(self._created):
            _ip(*(("netns", "del", name) if kind == "netns" else ("link", "del", name)), check=False)
        self._created.clear()
        for proc in self._sshd.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _kill_all_in(self, ns: str) -> None:
        """Every process in one of our namespaces was started through it: TERM, then KILL."""
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while pids and time.monotonic() < deadline:
                pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
                time.sleep(0.1)
            if not pids:
                return

    def __enter__(self) -> "NetnsHosts":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
