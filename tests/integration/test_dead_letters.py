"""Bad messages on the real broker: dead-lettered with a reason, the worker lives on."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import dramatiq
import pika
from sqlalchemy import create_engine, select

from common import names
from common.config import BrokerConfig
from common.contracts import IngestFrame, NodeHeartbeat
from common.events import DEAD_EVENTS_QUEUE, RabbitEventBus
from common.jobs import make_broker, send_ingest_frame
from common.objectstore import S3ObjectStore
from master.models import DeadLetter, Frame, Node
from node_telescope.simulator import SimulatedCamera, to_bytes
from .helpers import print_log_tails, private_env, run_obsy, s3_and_broker_sections, start_obsy, stop_group, wait_for


def rows(engine, model):
    with engine.connect() as connection:
        return connection.execute(select(model)).all()


def test_invalid_jobs_and_events_are_dead_lettered_with_reasons(rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("dead_letters")
    config = tmp_path / "master.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n' + s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
                      + "[worker]\nprocesses = 1\nthreads = 1\n")
    env = private_env(tmp_path)
    run_obsy(["master", "migrate", "--config", str(config)], env)
    engine = create_engine(db_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start_obsy(["master", "worker", "--config", str(config)], logs / "worker.log", env)
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=rabbitmq.url))
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()
    try:
        broker.declare_queue(names.INGEST_QUEUE, ensure=True)  # exists before the raw publish
        # 1. Bytes that are not a job at all, straight onto the queue.
        channel.basic_publish("", names.INGEST_QUEUE, b"\x00garbage{", pika.BasicProperties(delivery_mode=2))
        # 2. A well-formed job whose message breaks the contract.
        broker.enqueue(dramatiq.Message(queue_name=names.INGEST_QUEUE, actor_name=names.INGEST_FRAME_ACTOR,
                                        args=({"schema": "obsy.ingest_frame", "version": 1, "node": "Bad Node!",
                                               "key": "x", "size": 0, "sha256": "0"},), kwargs={}, options={}))
        # 3. A valid claim right after them: the worker must still be there for it.
        data = to_bytes(SimulatedCamera(width=320, height=240).capture(
            83.82, -5.39, 60, "L", "light", datetime(2026, 11, 24, 23, tzinfo=timezone.utc), object_name="M42"))
        sha = hashlib.sha256(data).hexdigest()
        key = names.incoming_key("scope1", sha)
        S3ObjectStore(s3.endpoint, s3.access_key, s3.secret_key, s3_bucket, secure=False).put_bytes(key, data)
        send_ingest_frame(broker, IngestFrame(node="scope1", key=key, size=len(data), sha256=sha))

        wait_for(lambda: len(rows(engine, Frame)) == 1 and len(rows(engine, DeadLetter)) == 2, 60,
                 "the valid frame ingested and two dead letters recorded")
        reasons = sorted(row.reason for row in rows(engine, DeadLetter))
        assert reasons[0].startswith("invalid obsy.ingest_frame") and "node" in reasons[0]
        assert reasons[1].startswith("undecodable job")
        wait_for(lambda: rabbitmq.queue_depth(f"{names.INGEST_QUEUE}.XQ") == 2, 20, "both jobs in the XQ")

        # Events: a broken heartbeat is set aside with its reason, a good one still counts.
        bus = RabbitEventBus(rabbitmq.url)
        bus.publish_raw(names.heartbeat_key("telescope", "scope1"), b"{not json")
        bus.publish(names.heartbeat_key("telescope", "scope1"),
                    NodeHeartbeat(node="scope1", role="telescope", software_version="9.9", spool_backlog=3))
        wait_for(lambda: len(rows(engine, Node)) == 1, 30, "the good heartbeat recorded")
        assert rows(engine, Node)[0].spool_backlog == 3
        method, properties, body = channel.basic_get(DEAD_EVENTS_QUEUE, auto_ack=True)
        assert body == b"{not json" and "not JSON" in properties.headers["x-obsy-reason"]
        bus.close()
        assert worker.poll() is None, "the worker died"
    finally:
        connection.close()
        broker.close()
        stop_group(worker)
        print_log_tails(logs)
