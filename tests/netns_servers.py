"""Run test servers (tests/servers.py) inside a network namespace made by tests/netns_hosts.py.

    ip netns exec NS python -m tests.netns_servers postgres rabbitmq s3

starts the named servers with OBSY_TEST_SERVER_HOST=0.0.0.0, i.e. on every address of that
namespace (its loopback and its one veth; nothing else exists there), prints one JSON line with
what a client needs (ports, RabbitMQ node name and rabbitmqctl environment), and stops them all
when its stdin closes. ``NamespaceServers`` does that from the test process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _describe(kind: str, server) -> dict:
    info = {"port": server.port}
    if kind == "rabbitmq":
        info.update(nodename=server.nodename, ctl=server._ctl,
                    env={k: v for k, v in server._env().items()
                         if k.startswith(("RABBITMQ_", "ERL_")) or k in ("HOME", "LC_ALL", "LANG")})
    if kind == "postgres":
        info.update(bindir=server.bindir, user=server.user)
    return info


def main(kinds: list[str]) -> None:
    from tests import servers

    classes = {"postgres": servers.PostgresServer, "rabbitmq": servers.RabbitMQServer, "s3": servers.S3Server}
    running = {}
    if "rabbitmq" in kinds:
        # The node would start epmd with ERL_EPMD_ADDRESS=0.0.0.0, which epmd refuses (it adds
        # loopback itself); epmd on all addresses of this namespace, killed with the namespace.
        subprocess.run(["epmd", "-daemon"], check=True, timeout=30)
    try:
        for kind in kinds:
            running[kind] = classes[kind]().start()
        print(json.dumps({kind: _describe(kind, server) for kind, server in running.items()}), flush=True)
        sys.stdin.read()  # until the test closes the pipe (or dies)
    finally:
        for server in reversed(list(running.values())):
            server.stop()


class NamespaceServers:
    """The helper above, started in host ``name`` of ``hosts`` (a NetnsHosts)."""

    def __init__(self, hosts, name: str, kinds: list[str], log: Path):
        self.hosts, self.name, self.kinds, self.log = hosts, name, kinds, log
        self.info: dict = {}
        self._proc: subprocess.Popen | None = None

    def start(self) -> "NamespaceServers":
        env = {**os.environ, "OBSY_TEST_SERVER_HOST": "0.0.0.0", "PYTHONPATH": str(REPO)}
        self._proc = self.hosts.popen(self.name, [sys.executable, "-m", "tests.netns_servers", *self.kinds],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log.open("ab"),
                                      env=env, cwd=REPO, text=True)
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=30)
            raise RuntimeError(f"servers in {self.name} did not start:\n{self.log.read_text()[-3000:]}")
        self.info = json.loads(line)
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        self._proc = None


if __name__ == "__main__":
    main(sys.argv[1:])
