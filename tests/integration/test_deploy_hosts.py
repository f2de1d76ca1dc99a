"""deploy/ansible/site.yml over real SSH to two separate test hosts: a master and a telescope node.

The hosts are network namespaces made by the test (tests/netns_hosts.py): each has its own
address on a private bridge and its own sshd; Ansible connects as root with a throw-away key and
checks their host keys. They share this machine's filesystem, so each host gets its own root
prefix (every path of the roles points under it) and its own system user.

Servers: PostgreSQL, RabbitMQ and an S3 server (moto) run INSIDE the master's namespace
(tests/netns_servers.py), as they would on a master host: the master's services reach PostgreSQL
over its loopback, the telescope node reaches RabbitMQ and S3 at the master's address. The roles
configure them with psql and rabbitmqctl run on the master over SSH. There is no systemd here,
so the service manager is the roles' supervisor script (obsy_service_manager=script); the test
starts the services with it over SSH after the first run.

OBSY's dependencies come from a wheelhouse built once per session with pip (this machine's pip
configuration and cache) and served over HTTP on the bridge: the hosts install with
``--no-index --find-links``.

Checked: the first run deploys both hosts; the services run as their users; a schedule sent
through the master's broker account is imaged by the telescope node (simulator backend) and every
frame is ingested into the master's database, and the node's spool empties (frame.ingested came
back); a telescope node is refused another node's queue; every secret is outside the repository;
a second run reports changed=0 and restarts nothing; an upgrade run (the database one migration
behind, a new environment for the master's worker only, a new telescope configuration) migrates
the database to the head and restarts only the worker and the telescope service (the portal keeps
its pid). Everything is removed afterwards.
"""
from __future__ import annotations

import configparser
import functools
import http.server
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from .helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "deploy" / "ansible"
VENV_BIN = Path(sys.executable).parent
SNAPSHOT_IGNORE = {".venv", ".git", "build", "tests", "node_modules", ".hypothesis", ".pytest_cache",
                   ".ansible", "__pycache__", "obsy.egg-info"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and system users: run as root")


@pytest.fixture(scope="session")
def obsy_wheelhouse(tmp_path_factory) -> Path:
    """Wheels of OBSY's dependencies (setup.cfg install_requires), built once per session."""
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    requirements = [r for r in parser["options"]["install_requires"].split("\n") if r.strip()]
    base = tmp_path_factory.mktemp("wheelhouse")
    (base / "requirements.txt").write_text("\n".join(requirements) + "\n")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                    "--wheel-dir", str(wheels), "-r", str(base / "requirements.txt")],
                   check=True, capture_output=True, timeout=600)
    return wheels


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve(directory: Path, host: str) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _recap(output: str) -> dict[str, dict[str, int]]:
    return {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
            for host, counters in re.findall(r"^(\w+)\s*:\s*(ok=\d+.*)$", output, re.MULTILINE)}


def _changed_tasks(output: str) -> list[str]:
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line
        elif line.startswith("changed:") and current:
            tasks.append(f"{current} {line}")
    return tasks


class Site:
    """Two test hosts, the master's servers, the inventory and the playbook runs."""

    def __init__(self, tmp: Path):
        from tests.netns_hosts import NetnsHosts

        self.tmp = tmp
        self.tag = uuid.uuid4().hex[:6]
        self.node = f"s{self.tag}"
        self.hosts = NetnsHosts(["master", "scope"], tmp / "hosts")
        self.roots = {}
        self.users = {name: f"obsy{self.tag}{name[0]}" for name in ("master", "scope")}
        self.secrets = tmp / "secrets"
        self.inventory = tmp / "inventory.yml"
        self.servers = None
        self.wheel_server = None

    def root(self, name: str) -> Path:
        if name not in self.roots:
            # the obsy user must reach its directories: not under pytest's 0700 tmp
            self.roots[name] = Path(tempfile.mkdtemp(prefix=f"obsy-host-{name}-"))
            self.roots[name].chmod(0o755)
        return self.roots[name]

    def home(self, name: str) -> Path:
        return self.root(name) / "opt" / "obsy"

    def start(self, wheelhouse: Path) -> None:
        from tests.netns_servers import NamespaceServers

        self.hosts.start()
        self.servers = NamespaceServers(self.hosts, "master", ["postgres", "rabbitmq", "s3"],
                                        self.tmp / "servers.log").start()
        self.wheel_server = _serve(wheelhouse, self.hosts.gateway)
        snapshot = self.tmp / "checkout"
        # a snapshot: other work on the repository during the test must not change the second run
        shutil.copytree(REPO, snapshot, ignore=lambda d, names: [n for n in names if n in SNAPSHOT_IGNORE])
        self._write_inventory(snapshot)

    def _host_vars(self, name: str) -> dict:
        root = self.root(name)
        return {
            "ansible_host": self.hosts.address(name),
            "obsy_user": self.users[name],
            "obsy_group": self.users[name],
            "obsy_home": str(self.home(name)),
            "obsy_config_dir": str(root / "etc" / "obsy"),
            "obsy_data_dir": str(root / "var" / "lib" / "obsy"),
            "obsy_log_dir": str(root / "var" / "log" / "obsy"),
        }

    def _write_inventory(self, snapshot: Path) -> None:
        info = self.servers.info
        master_ip = self.hosts.address("master")
        mroot = self.root("master")
        (mroot / "etc" / "mosquitto").mkdir(parents=True)
        (mroot / "etc" / "nginx").mkdir(parents=True)
        common = {
            **self.hosts.ssh_vars,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become": False,  # Ansible logs in as root
            "obsy_deployment_name": "test",
            "obsy_secrets_dir": str(self.secrets),
            "obsy_build_dir": str(self.tmp / "build"),
            "obsy_build_isolation": False,
            "obsy_install_packages": False,
            "obsy_source": "checkout",
            "obsy_checkout_dir": str(snapshot),
            "obsy_pip_args": ["--no-index", "--find-links", f"http://{self.hosts.gateway}:{self.wheel_server.server_port}/",
                              "--trusted-host", self.hosts.gateway, "--no-cache-dir", "--no-compile"],
            "obsy_service_manager": "script",
            "obsy_master_address": master_ip,
            "obsy_rabbitmq_port": info["rabbitmq"]["port"],
            "obsy_store_kind": "s3",
            "obsy_s3_endpoint": f"{master_ip}:{info['s3']['port']}",
        }
        master = {
            **self._host_vars("master"),
            "obsy_server_name": "master.obsy.test",
            "obsy_postgres_port": info["postgres"]["port"],
            "obsy_postgres_admin_os_user": "",
            "obsy_postgres_admin_host": "127.0.0.1",
            "obsy_rabbitmqctl": info["rabbitmq"]["ctl"],
            "obsy_rabbitmqctl_args": ["-n", info["rabbitmq"]["nodename"]],
            "obsy_rabbitmqctl_environment": info["rabbitmq"]["env"],
            "obsy_mosquitto_conf_path": str(mroot / "etc" / "mosquitto" / "obsy.conf"),
            "obsy_mosquitto_passwd_path": str(mroot / "etc" / "mosquitto" / "obsy.passwd"),
            "obsy_mosquitto_acl_path": str(mroot / "etc" / "mosquitto" / "obsy.acl"),
            "obsy_mosquitto_file_group": "root",
            "obsy_nginx_site_path": str(mroot / "etc" / "nginx" / "obsy.conf"),
            "obsy_web_workers": 1,
            "obsy_worker_processes": 1,
        }
        scope = {
            **self._host_vars("scope"),
            "obsy_node_name": self.node,
            "obsy_telescope_backend": "simulator",
            "obsy_telescope_extra_toml": "[simulator]\ntime_scale = 200\nwidth = 320\nheight = 240\n",
        }
        inventory = {"obsy": {"vars": common, "children": {
            "obsy_master": {"hosts": {"master": master}},
            "obsy_telescope": {"hosts": {"scope": scope}}}}}
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def run(self, playbook: str = "site.yml", *extra: str) -> tuple[str, dict, float]:
        env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_HOME": str(self.tmp / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.tmp / "cp"),
               "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}
        t0 = time.monotonic()
        res = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), playbook, *extra],
                             cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=600)
        output = res.stdout + res.stderr
        assert res.returncode == 0, f"ansible-playbook {playbook} failed ({res.returncode}):\n{output[-8000:]}"
        return output, _recap(res.stdout), time.monotonic() - t0

    def pids(self, name: str) -> dict[str, str]:
        return {p.stem: p.read_text().strip() for p in (self.root(name) / "var/lib/obsy/run").glob("*.pid")}

    def change_host_vars(self, name: str, **changes) -> None:
        inventory = yaml.safe_load(self.inventory.read_text())
        group = "obsy_master" if name == "master" else "obsy_telescope"
        inventory["obsy"]["children"][group]["hosts"][name].update(changes)
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def ssh(self, name: str, command: str) -> subprocess.CompletedProcess:
        v = self.hosts.ssh_vars
        return subprocess.run(["ssh", "-i", v["ansible_ssh_private_key_file"], *v["ansible_ssh_common_args"].split(),
                               f"root@{self.hosts.address(name)}", command],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    def psql(self, sql: str) -> str:
        res = self.hosts.run("master", ["psql", "-X", "-h", "127.0.0.1", "-p", str(self.servers.info["postgres"]["port"]),
                                        "-U", "postgres", "-d", "obsy", "-tAc", sql])
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().split()[0]

    def cleanup(self) -> None:
        for name in ("master", "scope"):
            services = self.home(name) / "bin" / "obsy-services"
            if services.exists():
                self.hosts.run(name, [str(services), "stop"], timeout=60)
        if self.servers is not None:
            self.servers.stop()
        if self.wheel_server is not None:
            self.wheel_server.shutdown()
        self.hosts.stop()
        for root in self.roots.values():
            shutil.rmtree(root, ignore_errors=True)
        for user in self.users.values():
            subprocess.run(["userdel", user], capture_output=True)
            subprocess.run(["groupdel", user], capture_output=True)


@pytest.fixture
def site(tmp_path, obsy_wheelhouse):
    s = Site(tmp_path)
    try:
        s.start(obsy_wheelhouse)
        yield s
    finally:
        s.cleanup()
    for user in s.users.values():
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
    assert not any(ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
                   for ns in s.hosts.namespaces.values())


def test_site_deploys_master_and_telescope_over_ssh(site):
    out1, recap1, first_s = site.run("site.yml", "-e", "obsy_services_start=false")
    assert set(recap1) == {"master", "scope"}, out1[-3000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 and r["changed"] > 5 for r in recap1.values()), recap1

    # No systemd: the supervisor script, started over SSH as a container entry point would.
    for name in ("master", "scope"):
        res = site.ssh(name, f"{site.home(name)}/bin/obsy-services start")
        assert res.returncode == 0 and "started" in res.stdout, res.stdout + res.stderr
    pids_before = {name: sorted(p.read_text() for p in (site.root(name) / "var/lib/obsy/run").glob("*.pid"))
                   for name in ("master", "scope")}
    assert len(pids_before["master"]) == 2 and len(pids_before["scope"]) == 1

    out2, recap2, second_s = site.run()
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap2.values()), \
        f"second run changed: {_changed_tasks(out2)}\n{out2[-3000:]}"
    pids_after = {name: sorted(p.read_text() for p in (site.root(name) / "var/lib/obsy/run").glob("*.pid"))
                  for name in ("master", "scope")}
    assert pids_after == pids_before, "the second run restarted a service"
    print(f"\nfirst run {first_s:.1f} s, second run {second_s:.1f} s (changed=0)")

    # A schedule through the master's broker account: the telescope images it, the master ingests.
    from common.config import BrokerConfig
    from common.contracts import ScheduleJob
    from common.jobs import make_broker, send_schedule

    master_ip = site.hosts.address("master")
    amqp = (f"amqp://obsy-master:{site.secret('rabbitmq-obsy-master')}@{master_ip}:"
            f"{site.servers.info['rabbitmq']['port']}/obsy")
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=amqp))
    rows = [{"filter_name": "R", "exposure_s": 30, "count": 2}, {"filter_name": "B", "exposure_s": 30, "count": 1}]
    try:
        send_schedule(broker, ScheduleJob(job_id="deploy-1", node=site.node,
                                          targets=[{"name": "M 13", "ra_deg": 250.42, "dec_deg": 36.46, "rows": rows}]))
    finally:
        broker.close()

    def ingested() -> int:
        return int(site.psql(f"SELECT count(*) FROM frames WHERE node_name = '{site.node}'"))

    try:
        wait_for(lambda: ingested() == 3, 120, "3 frames of the telescope node in the master's database")
        spool = site.root("scope") / "var/lib/obsy/spool" / site.node
        wait_for(lambda: not list(spool.rglob("*.fits")), 60, "the telescope's spool emptied after frame.ingested")
    except AssertionError:
        for name in ("master", "scope"):
            for log in (site.root(name) / "var/log/obsy").glob("*.log"):
                sys.stdout.write(f"--- {name} {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")
        raise
    assert site.psql("SELECT DISTINCT filter_name FROM frames ORDER BY 1") == "B\nR"

    _check_node_scope(site)
    _check_upgrade_restarts_only_what_changed(site)

    # every secret is in the secrets directory, none in the repository
    for secret_file in site.secrets.iterdir():
        value = secret_file.read_text().split()[0]
        hits = subprocess.run(["grep", "-rlF", "--exclude-dir=.venv", "--exclude-dir=.git", value, str(REPO)],
                              capture_output=True, text=True)
        assert hits.stdout == "", f"secret {secret_file.name} found in {hits.stdout}"


def _check_node_scope(site: Site) -> None:
    import pika
    import pika.exceptions

    user = f"obsy-telescope-{site.node}"
    params = pika.ConnectionParameters(host=site.hosts.address("master"), port=site.servers.info["rabbitmq"]["port"],
                                       virtual_host="obsy",
                                       credentials=pika.PlainCredentials(user, site.secret(f"rabbitmq-{user}")))
    with pika.BlockingConnection(params) as conn:
        channel = conn.channel()
        channel.queue_declare(f"obsy.telescope.{site.node}", passive=True)   # its own schedule queue (made by the node)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.queue_declare("obsy.telescope.someoneelse", durable=True)
        assert refused.value.reply_code == 403


_MASTER_PYTHON = """
import sys
from alembic import command
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from common.config import load_config
from master.migrate import alembic_config
url = load_config("master", sys.argv[2]).database.resolved_url()
if sys.argv[1] == "downgrade":
    command.downgrade(alembic_config(url), "-1")
engine = create_engine(url)
with engine.connect() as connection:
    print(",".join(sorted(MigrationContext.configure(connection).get_current_heads())))
engine.dispose()
"""


def _master_schema(site: Site, action: str) -> str:
    venv_python = site.home("master") / "venv" / "bin" / "python"
    script = site.tmp / "schema.py"
    script.write_text(_MASTER_PYTHON)
    script.chmod(0o644)
    res = site.hosts.run("master", [str(venv_python), str(script), action,
                                    str(site.root("master") / "etc/obsy/master.toml")], timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.strip().splitlines()[-1]


def _check_upgrade_restarts_only_what_changed(site: Site) -> None:
    from alembic.script import ScriptDirectory
    from master.migrate import alembic_config

    head = ",".join(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))
    behind = _master_schema(site, "downgrade")
    assert behind != head and behind, behind
    before = {name: site.pids(name) for name in ("master", "scope")}
    assert set(before["master"]) == {"master-web", "master-worker"} and set(before["scope"]) == {"telescope"}

    site.change_host_vars("master", obsy_master_worker_environment={"PYTHONWARNINGS": "default"})
    site.change_host_vars("scope", obsy_telescope_extra_toml="[simulator]\ntime_scale = 150\nwidth = 320\nheight = 240\n")
    out, recap, upgrade_s = site.run()
    changed = _changed_tasks(out)
    assert all(r["failed"] == 0 for r in recap.values()), recap
    assert any("Run obsy master migrate" in task for task in changed), changed
    assert _master_schema(site, "read") == head

    after = {name: site.pids(name) for name in ("master", "scope")}
    assert after["master"]["master-web"] == before["master"]["master-web"], "the portal restarted: nothing of it changed"
    assert after["master"]["master-worker"] != before["master"]["master-worker"], "the worker's environment changed"
    assert after["scope"]["telescope"] != before["scope"]["telescope"], "the telescope's configuration changed"
    for name in ("master", "scope"):
        status = site.ssh(name, f"{site.home(name)}/bin/obsy-services status")
        assert status.returncode == 0, status.stdout + status.stderr
    worker_env = (site.home("master") / "services" / "master-worker").read_text()
    assert "PYTHONWARNINGS=default" in worker_env
    print(f"upgrade run {upgrade_s:.1f} s (migrated {behind} -> {head}; restarted the worker and the telescope)")
