"""The promise of the claim check, tested on real servers.

Two telescope nodes (real `obsy telescope` processes with simulated cameras)
send 200 frames through a real RabbitMQ and a real S3 server into
PostgreSQL. During the run RabbitMQ is stopped and restarted, and the master
worker is killed with SIGKILL and restarted. Afterwards there are exactly 200
frame rows, every stored object matches its sha256, and both spools are empty.
"""
from __future__ import annotations

import hashlib
import signal
import time

from sqlalchemy import create_engine, func, select, text

from common.objectstore import S3ObjectStore
from master.models import Frame
from .helpers import (print_log_tails, private_env, run_obsy, s3_and_broker_sections, start_obsy, stop_group,
                      wait_for)

FRAMES_PER_NODE = 100


def count_frames(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Frame))


def test_two_nodes_200_frames_exactly_once_through_broker_restart_and_worker_kill(
        rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("exactly_once")
    amqp = rabbitmq.url
    env = private_env(tmp_path)
    master_toml = tmp_path / "master.toml"
    master_toml.write_text(f'[database]\nurl = "{db_url}"\n'
                        + s3_and_broker_sections(s3, s3_bucket, amqp) + "[worker]\nprocesses = 2\nthreads = 2\n")
    node_tomls = []
    for name in ("scope1", "scope2"):
        node_toml = tmp_path / f"{name}.toml"
        node_toml.write_text(
            f'heartbeat_s = 2\n[node]\nname = "{name}"\n' + s3_and_broker_sections(s3, s3_bucket, amqp)
            + f'[spool]\npath = "{tmp_path / "spool" / name}"\nresend_after_s = 30\nretry_max_s = 2\n'
            f'[simulator]\nfree_run = true\nframe_interval_s = 0.05\nmax_frames = {FRAMES_PER_NODE}\nwidth = 256\nheight = 192\n'
            f'targets = ["M31", "M42"]\n')
        node_tomls.append(node_toml)

    run_obsy(["master", "migrate", "--config", str(master_toml)], env)
    engine = create_engine(db_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start_obsy(["master", "worker", "--config", str(master_toml)], logs / "worker.log", env)
    nodes = [start_obsy(["telescope", "--config", str(path)], logs / f"{path.stem}.log", env) for path in node_tomls]
    try:
        wait_for(lambda: count_frames(engine) >= 40, 120, "40 frames before the broker outage")
        rabbitmq.stop(cleanup=False)
        time.sleep(3)  # nodes keep capturing into their spools meanwhile
        rabbitmq.start()
        wait_for(lambda: count_frames(engine) >= 110, 180, "110 frames before killing the worker")
        stop_group(worker, signal.SIGKILL)
        at_kill = count_frames(engine)
        time.sleep(1)
        worker = start_obsy(["master", "worker", "--config", str(master_toml)], logs / "worker.log", env)
        spools = [tmp_path / "spool" / name / "state" for name in ("scope1", "scope2")]
        wait_for(lambda: count_frames(engine) >= 2 * FRAMES_PER_NODE
                 and all(not any(p.iterdir()) for p in spools), 300, "all frames ingested and spools empty")
        time.sleep(3)  # any late duplicate claim would show up now
    finally:
        for proc in nodes + [worker]:
            stop_group(proc)
        print_log_tails(logs)

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
