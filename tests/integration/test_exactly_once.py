"""The promise of the claim check, tested on real servers.

Two telescope nodes (real `obsy telescope` processes with simulated cameras)
send 200 frames through a real RabbitMQ and a real S3 server into
PostgreSQL. During the run RabbitMQ is stopped and restarted, and the master
worker is killed with SIGKILL and restarted. Afterwards there are exactly 200
frame rows, every stored object matches its sha256, and both spools are empty.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from common.objectstore import S3ObjectStore
from master.models import Frame

FRAMES_PER_NODE = 100
OBSY = str(Path(sys.executable).with_name("obsy"))


def write(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def common_sections(s3, bucket, amqp_url) -> str:
    return (f'[store]\nkind = "s3"\nendpoint = "{s3.endpoint}"\naccess_key = "{s3.access_key}"\n'
            f'secret_key = "{s3.secret_key}"\nbucket = "{bucket}"\nsecure = false\n'
            f'[broker]\nkind = "rabbitmq"\nurl = "{amqp_url}"\n')


def start(args, log: Path, env) -> subprocess.Popen:
    # Own session, so a SIGKILL can take the whole process group down at once.
    return subprocess.Popen([OBSY, *args], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def count_frames(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Frame))


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_group(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=30):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_two_nodes_200_frames_exactly_once_through_broker_restart_and_worker_kill(
        rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("exactly_once")
    amqp = rabbitmq.url
    env = {**os.environ, "OBSY_CONFIG_DIR": str(tmp_path / "cfg"), "OBSY_DATA_DIR": str(tmp_path / "data")}
    master_toml = write(tmp_path / "master.toml", f'[database]\nurl = "{db_url}"\n'
                        + common_sections(s3, s3_bucket, amqp) + "[worker]\nprocesses = 2\nthreads = 2\n")
    node_tomls = []
    for name in ("scope1", "scope2"):
        node_tomls.append(write(tmp_path / f"{name}.toml", (
            f'heartbeat_s = 2\n[node]\nname = "{name}"\n' + common_sections(s3, s3_bucket, amqp)
            + f'[spool]\npath = "{tmp_path / "spool" / name}"\nresend_after_s = 30\nretry_max_s = 2\n'
            f'[simulator]\nframe_interval_s = 0.05\nmax_frames = {FRAMES_PER_NODE}\nwidth = 256\nheight = 192\n'
            f'targets = ["M31", "M42"]\n')))

    subprocess.run([OBSY, "master", "migrate", "--config", str(master_toml)],
                   check=True, env=env, capture_output=True)
    engine = create_engine(db_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start(["master", "worker", "--config", str(master_toml)], logs / "worker.log", env)
    nodes = [start(["telescope", "--config", str(path)], logs / f"{path.stem}.log", env) for path in node_tomls]
    try:
        wait_for(lambda: count_frames(engine) >= 40, 120, "40 frames before the broker outage")
        rabbitmq.stop(cleanup=False)
        time.sleep(3)  # nodes keep capturing into their spools meanwhile
        rabbitmq.start()
        wait_for(lambda: count_frames(engine) >= 110, 180, "110 frames before killing the worker")
        stop_group(worker, signal.SIGKILL)
        at_kill = count_frames(engine)
        time.sleep(1)
        worker = start(["master", "worker", "--config", str(master_toml)], logs / "worker.log", env)
        spools = [tmp_path / "spool" / name / "state" for name in ("scope1", "scope2")]
        wait_for(lambda: count_frames(engine) >= 2 * FRAMES_PER_NODE
                 and all(not any(p.iterdir()) for p in spools), 300, "all frames ingested and spools empty")
        time.sleep(3)  # any late duplicate claim would show up now
    finally:
        for proc in nodes + [worker]:
            stop_group(proc)
        for log in logs.iterdir():
            sys.stdout.write(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]) + "\n")

    with engine.connect() as connection:
        rows = connection.execute(select(Frame.sha256, Frame.key, Frame.size, Frame.node_name)).all()
        dead = connection.execute(text("select count(*) from dead_letters")).scalar()
    assert at_kill < 2 * FRAMES_PER_NODE, "the worker was killed only after all the work was done"
    assert len(rows) == 2 * FRAMES_PER_NODE
    assert len({r.sha256 for r in rows}) == len(rows)
    assert {r.node_name for r in rows} == {"scope1", "scope2"}
    assert dead == 0
    store = S3ObjectStore(s3.endpoint, s3.access_key, s3.secret_key, s3_bucket, secure=False)
    for row in rows:
        data = store.get_bytes(row.key)
        assert len(data) == row.size and hashlib.sha256(data).hexdigest() == row.sha256
    assert list(store.list("incoming/")) == []
    for name in ("scope1", "scope2"):
        assert list((tmp_path / "spool" / name / "frames").iterdir()) == []
