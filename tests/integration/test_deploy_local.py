"""A real run of deploy/ansible/site.yml against this machine (``ansible_connection=local``).

The host plays every role (master, observatory, telescope, remote) with every path under a
private temporary root, a throw-away system user, and the test session's own PostgreSQL and
RabbitMQ (their ports and rabbitmqctl environment are passed as inventory variables). No package
is installed and, since this machine has no systemd, the service manager is the supervisor
script (``obsy_service_manager=script``): the run installs it and the service commands, and the
test starts and stops the master portal with it.

Checked: the obsy user and directories, the venv with OBSY built from a snapshot of the checkout,
the role configs (validated by ``obsy config check`` during the run), the database and its role
with the schema at the newest migration, the RabbitMQ vhost and users with per-node permissions
(a telescope node is refused another node's queue), the Mosquitto files, the self-signed
certificate and nginx site, the secrets generated once outside the repository; then a second run
changes nothing. Everything created is removed afterwards (database, role, vhost, users, the
system user and group, the temporary root).
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "deploy" / "ansible"
VENV_BIN = Path(sys.executable).parent
SNAPSHOT_IGNORE = {".venv", ".git", "build", "tests", "node_modules", ".hypothesis", ".pytest_cache",
                   ".ansible", "__pycache__", "obsy.egg-info"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the deployment creates a system user: run as root")


def _recap(output: str) -> dict[str, int]:
    """The PLAY RECAP counters of the one host."""
    match = re.search(r"testbox\s*:\s*(ok=\d+.*)$", output, re.MULTILINE)
    assert match, f"no PLAY RECAP in the output:\n{output[-3000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def _changed_tasks(output: str) -> list[str]:
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line
        elif line.startswith("changed:") and current:
            tasks.append(current)
    return tasks


class Deployment:
    def __init__(self, tmp: Path, postgres, rabbitmq):
        self.tmp = tmp
        self.postgres = postgres
        self.rabbitmq = rabbitmq
        tag = uuid.uuid4().hex[:8]
        self.user = f"obsyt{tag}"
        self.db = f"obsyt_{tag}"
        self.vhost = f"obsyt-{tag}"
        self.master_user = f"obsyt-{tag}-master"
        self.node = f"t{tag}"
        # the obsy user must reach the program and data directories: not under pytest's 0700 tmp
        self.root = Path(tempfile.mkdtemp(prefix="obsy-deploy-root-"))
        self.root.chmod(0o755)
        self.secrets = tmp / "secrets"
        self.snapshot = tmp / "checkout"
        self.inventory = tmp / "inventory.yml"
        self.home = self.root / "opt" / "obsy"
        self.config_dir = self.root / "etc" / "obsy"
        self.data_dir = self.root / "var" / "lib" / "obsy"
        self.log_dir = self.root / "var" / "log" / "obsy"
        self.web_port = None
        self.timings: list[float] = []

    # -- setup ------------------------------------------------------------------------------
    def write_inventory(self, web_port: int) -> None:
        self.web_port = web_port
        # The checkout is snapshotted: other work on the repository during the test must not turn
        # the second run into a change.
        shutil.copytree(REPO, self.snapshot, ignore=lambda d, names: [n for n in names if n in SNAPSHOT_IGNORE])
        rmq_env = {k: v for k, v in self.rabbitmq._env().items()
                   if k.startswith(("RABBITMQ_", "ERL_")) or k in ("HOME", "LC_ALL", "LANG")}
        host_vars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "ansible_become": False,
            "obsy_deployment_name": "test",
            "obsy_secrets_dir": str(self.secrets),
            "obsy_build_dir": str(self.tmp / "build"),
            "obsy_user": self.user,
            "obsy_group": self.user,
            "obsy_home": str(self.home),
            "obsy_config_dir": str(self.config_dir),
            "obsy_data_dir": str(self.data_dir),
            "obsy_log_dir": str(self.log_dir),
            "obsy_install_packages": False,
            "obsy_source": "checkout",
            "obsy_pip_args": ["--no-compile"],  # about 20 s faster here
            "obsy_checkout_dir": str(self.snapshot),
            "obsy_service_manager": "script",
            "obsy_services_start": False,
            "obsy_master_address": "127.0.0.1",
            "obsy_server_name": "testbox.invalid",
            "obsy_node_name": self.node,
            # PostgreSQL of the test session: administrator "postgres" over TCP (trust auth).
            "obsy_postgres_port": self.postgres.port,
            "obsy_postgres_database": self.db,
            "obsy_postgres_user": self.db,
            "obsy_postgres_admin_os_user": "",
            "obsy_postgres_admin_host": "127.0.0.1",
            # RabbitMQ of the test session: its rabbitmqctl, node name and environment.
            "obsy_rabbitmq_port": self.rabbitmq.port,
            "obsy_rabbitmq_vhost": self.vhost,
            "obsy_rabbitmq_master_user": self.master_user,
            "obsy_rabbitmqctl": self.rabbitmq._ctl,
            "obsy_rabbitmqctl_args": ["-n", self.rabbitmq.nodename],
            "obsy_rabbitmqctl_environment": rmq_env,
            "obsy_mosquitto_conf_path": str(self.root / "etc" / "mosquitto" / "obsy.conf"),
            "obsy_mosquitto_passwd_path": str(self.root / "etc" / "mosquitto" / "obsy.passwd"),
            "obsy_mosquitto_acl_path": str(self.root / "etc" / "mosquitto" / "obsy.acl"),
            "obsy_mosquitto_file_group": "root",
            "obsy_nginx_site_path": str(self.root / "etc" / "nginx" / "obsy.conf"),
            "obsy_store_kind": "local",
            "obsy_web_port": web_port,
            "obsy_web_workers": 1,
            "obsy_remote_port": 0,
        }
        (self.root / "etc" / "mosquitto").mkdir(parents=True)
        (self.root / "etc" / "nginx").mkdir(parents=True)
        groups = {g: {"hosts": {"testbox": None}} for g in
                  ("obsy_master", "obsy_observatory", "obsy_telescope", "obsy_remote")}
        inventory = {"obsy": {"children": groups, "vars": host_vars}}
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def run(self, playbook: str = "site.yml", *extra: str) -> tuple[str, dict[str, int], float]:
        env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "ANSIBLE_FORCE_COLOR": "0",
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
               "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
               "ANSIBLE_REMOTE_TEMP": str(self.tmp / "ansible-remote-tmp"), "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}
        t0 = time.monotonic()
        res = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), playbook, *extra],
                             cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.monotonic() - t0
        self.timings.append(elapsed)
        output = res.stdout + res.stderr
        assert res.returncode == 0, f"ansible-playbook {playbook} failed ({res.returncode}):\n{output[-6000:]}"
        return output, _recap(res.stdout), elapsed

    def rabbitmqctl(self, *args: str) -> str:
        return self.rabbitmq.ctl(*args)

    # -- cleanup ----------------------------------------------------------------------------
    def cleanup(self) -> None:
        services = self.home / "bin" / "obsy-services"
        if services.exists():
            subprocess.run([str(services), "stop"], capture_output=True, timeout=60)
        try:
            with self.postgres.connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
                conn.execute(f'DROP ROLE IF EXISTS "{self.db}"')
        except Exception as exc:  # keep cleaning
            print(f"cleanup: postgres: {exc}", file=sys.stderr)
        if self.rabbitmq.running:
            for args in (("delete_vhost", self.vhost), ("delete_user", self.master_user),
                         ("delete_user", f"obsy-telescope-{self.node}"),
                         ("delete_user", f"obsy-observatory-{self.node}")):
                try:
                    self.rabbitmqctl(*args)
                except Exception:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["userdel", self.user], capture_output=True)
        subprocess.run(["groupdel", self.user], capture_output=True)


@pytest.fixture
def deployment(tmp_path, postgres, rabbitmq):
    d = Deployment(tmp_path, postgres, rabbitmq)
    try:
        yield d
    finally:
        d.cleanup()
    with pytest.raises(KeyError):
        pwd.getpwnam(d.user)


def _secret(deployment: Deployment, name: str) -> str:
    return (deployment.secrets / name).read_text().split()[0]


def test_site_playbook_deploys_this_host_and_is_idempotent(deployment, postgres, rabbitmq):
    from tests.servers import free_port

    deployment.write_inventory(web_port=free_port())

    out1, recap1, first_s = deployment.run()
    assert recap1["failed"] == 0 and recap1["changed"] > 10, out1[-3000:]
    out2, recap2, second_s = deployment.run()
    assert recap2["changed"] == 0, f"second run changed: {_changed_tasks(out2)}\n{out2[-3000:]}"
    print(f"\nfirst run {first_s:.1f} s (changed={recap1['changed']}), second run {second_s:.1f} s (changed=0)")

    # the user and the directories
    user = pwd.getpwnam(deployment.user)
    assert grp.getgrgid(user.pw_gid).gr_name == deployment.user
    for path in (deployment.data_dir, deployment.log_dir, deployment.data_dir / "spool" / deployment.node):
        assert path.stat().st_uid == user.pw_uid, path
        assert path.stat().st_mode & 0o777 == 0o750, path

    # OBSY in its own venv, configs readable by the obsy group only, each valid for its role
    obsy = deployment.home / "venv" / "bin" / "obsy"
    assert obsy.exists()
    for role in ("master", "telescope", "observatory", "remote"):
        config = deployment.config_dir / f"{role}.toml"
        assert config.stat().st_mode & 0o777 == 0o640
        subprocess.run([str(obsy), "config", "check", role, "--config", str(config)], check=True,
                       capture_output=True, timeout=60)
    master_toml = (deployment.config_dir / "master.toml").read_text()
    db_password = _secret(deployment, f"postgres-{deployment.db}")
    assert db_password in master_toml and len(db_password) == 32

    # the database: its own role logs in with the generated password, schema at the newest revision
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=deployment.db, password=db_password,
                         dbname=deployment.db) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                             (deployment.db,)).fetchone()[0]
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert owner == deployment.db
    heads = sorted(p.name.split("_")[0] for p in (REPO / "master" / "migrations" / "versions").glob("0*.py"))
    assert version.startswith(heads[-1]) or version == heads[-1], (version, heads)

    # RabbitMQ: vhost, users, permissions scoped per node
    assert deployment.vhost in deployment.rabbitmqctl("list_vhosts", "--silent", "name").split()
    users = deployment.rabbitmqctl("list_users", "--silent")
    for name in (deployment.master_user, f"obsy-telescope-{deployment.node}",
                 f"obsy-observatory-{deployment.node}"):
        assert name in users
    _check_node_scope(deployment, rabbitmq)

    # Mosquitto: users with salted hashes, ACL; nginx with a self-signed certificate
    passwd = Path(deployment.root / "etc" / "mosquitto" / "obsy.passwd").read_text()
    assert {line.split(":")[0] for line in passwd.split()} == {"obsy-master", "obsy-remote"}
    assert _secret(deployment, "mqtt-obsy-master") not in passwd
    assert "allow_anonymous false" in (deployment.root / "etc" / "mosquitto" / "obsy.conf").read_text()
    cert = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in",
                           str(deployment.config_dir / "tls" / "obsy.crt")], capture_output=True, text=True)
    assert "testbox.invalid" in cert.stdout
    assert (deployment.config_dir / "tls" / "obsy.key").stat().st_mode & 0o777 == 0o600
    assert f"proxy_pass http://127.0.0.1:{deployment.web_port}" in (deployment.root / "etc" / "nginx" / "obsy.conf").read_text()

    # every secret is in the secrets directory, none in the repository
    for secret_file in deployment.secrets.iterdir():
        value = secret_file.read_text().split()[0]
        hits = subprocess.run(["grep", "-rlF", "--exclude-dir=.venv", "--exclude-dir=.git", value, str(REPO)],
                              capture_output=True, text=True)
        assert hits.stdout == "", f"secret {secret_file.name} found in {hits.stdout}"

    # the supervisor script runs the portal as the obsy user, against the deployed database
    _check_supervised_portal(deployment, user)

    # backup.yml fetches a dump and the config; restore.yml puts the dump back (services: none)
    backups = deployment.tmp / "backups"
    out, _, backup_s = deployment.run("backup.yml", "-e", f"obsy_backup_dir={backups}")
    dumps = list(backups.glob("testbox/*/obsy.dump"))
    assert len(dumps) == 1 and (dumps[0].parent / "config.tar.gz").exists(), out[-2000:]
    listing = subprocess.run(["pg_restore", "--list", str(dumps[0])], capture_output=True, text=True, check=True)
    assert "alembic_version" in listing.stdout
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname=deployment.db,
                         autocommit=True) as conn:
        conn.execute("DELETE FROM alembic_version")
    _, _, restore_s = deployment.run("restore.yml", "-e", f"obsy_restore_dump={dumps[0]}",
                                     "-e", "obsy_service_manager=none")
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname=deployment.db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == version
    print(f"backup {backup_s:.1f} s, restore {restore_s:.1f} s")


def _check_node_scope(deployment: Deployment, rabbitmq) -> None:
    import pika
    import pika.exceptions

    password = _secret(deployment, f"rabbitmq-obsy-telescope-{deployment.node}")
    params = pika.ConnectionParameters(host="127.0.0.1", port=rabbitmq.port, virtual_host=deployment.vhost,
                                       credentials=pika.PlainCredentials(f"obsy-telescope-{deployment.node}", password))
    with pika.BlockingConnection(params) as conn:
        channel = conn.channel()
        channel.queue_declare(f"obsy.telescope.{deployment.node}", durable=True)   # its own schedule queue
        channel.queue_declare("obsy.ingest", durable=True)                         # where it sends frames
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.queue_declare("obsy.telescope.someoneelse", durable=True)
        assert refused.value.reply_code == 403


def _check_supervised_portal(deployment: Deployment, user) -> None:
    services = deployment.home / "bin" / "obsy-services"
    status = subprocess.run([str(services), "status"], capture_output=True, text=True)
    assert status.returncode == 3 and "master-web stopped" in status.stdout
    subprocess.run([str(services), "start", "master-web"], check=True, capture_output=True, timeout=30)
    try:
        deadline = time.monotonic() + 60
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{deployment.web_port}/login", timeout=5) as resp:
                    assert resp.status == 200
                    break
            except OSError as exc:
                last = exc
                time.sleep(0.5)
        else:
            log = (deployment.log_dir / "master-web.log").read_text(errors="replace")
            pytest.fail(f"the supervised portal does not answer: {last!r}\n{log[-3000:]}")
        pid = int((deployment.data_dir / "run" / "master-web.pid").read_text())
        import psutil

        owners = {p.username() for p in psutil.Process(pid).children(recursive=True)}
        assert deployment.user in owners
    finally:
        subprocess.run([str(services), "stop"], check=True, capture_output=True, timeout=60)
    assert "master-web stopped" in subprocess.run([str(services), "status"], capture_output=True, text=True).stdout
