"""The test-owned servers work for real (tests/servers.py and the fixtures in conftest.py)."""
from __future__ import annotations

import io
import threading
import uuid

import pika
import pytest
from sqlalchemy import create_engine, inspect, text

from tests import servers
from tests.servers import MosquittoServer, RabbitMQServer, ServerNotInstalled, ServerStartError


def test_rabbitmq_persistent_message_survives_restart(rabbitmq):
    queue = f"test.persist.{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(queue=queue, durable=True)
    ch.basic_publish("", queue, b"survives", pika.BasicProperties(delivery_mode=2))
    conn.close()
    assert rabbitmq.queue_depth(queue) == 1

    url, port = rabbitmq.url, rabbitmq.port
    rabbitmq.restart()
    assert (rabbitmq.url, rabbitmq.port) == (url, port)

    assert rabbitmq.queue_depth(queue) == 1
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    ch = conn.channel()
    method, props, body = ch.basic_get(queue)
    assert body == b"survives" and props.delivery_mode == 2
    ch.basic_ack(method.delivery_tag)
    ch.queue_delete(queue)
    conn.close()
    with pytest.raises(LookupError):
        rabbitmq.queue_depth(queue)


def test_postgres_row_survives_restart_and_kill(postgres, pg_url):
    engine = create_engine(pg_url)
    assert inspect(engine).get_table_names() == []  # a fresh database
    with engine.begin() as c:
        c.execute(text("CREATE TABLE frames (id serial PRIMARY KEY, target text NOT NULL)"))
        c.execute(text("INSERT INTO frames (target) VALUES ('M31')"))
    engine.dispose()

    port = postgres.port
    postgres.restart()
    assert postgres.port == port
    with engine.connect() as c:
        assert c.execute(text("SELECT target FROM frames")).scalars().all() == ["M31"]
    engine.dispose()

    postgres.kill()  # a crash: the data directory stays and start() recovers
    assert not postgres.running
    postgres.start()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM frames")).scalar() == 1
    engine.dispose()


def test_s3_put_get_stat_list(s3, s3_bucket):
    client = s3.client()
    assert client.bucket_exists(s3_bucket)
    data = b"SIMPLE  =                    T" * 100
    client.put_object(s3_bucket, "raw/2024/m31_001.fits", io.BytesIO(data), len(data),
                      content_type="application/fits")
    client.put_object(s3_bucket, "other/x.txt", io.BytesIO(b"x"), 1)

    resp = client.get_object(s3_bucket, "raw/2024/m31_001.fits")
    try:
        assert resp.read() == data
    finally:
        resp.close()
        resp.release_conn()
    stat = client.stat_object(s3_bucket, "raw/2024/m31_001.fits")
    assert stat.size == len(data) and stat.content_type == "application/fits"
    names = [o.object_name for o in client.list_objects(s3_bucket, prefix="raw/", recursive=True)]
    assert names == ["raw/2024/m31_001.fits"]


def test_mqtt_retained_message(mosquitto):
    import paho.mqtt.client as mqtt  # paho-mqtt>=2,<3: a test dependency (fail, do not skip)
    topic = f"obsy/test/{uuid.uuid4().hex[:8]}/roof"

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="obsy-test-pub")
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    try:
        pub.publish(topic, b"open", qos=1, retain=True).wait_for_publish(timeout=5)
    finally:
        pub.disconnect()
        pub.loop_stop()

    got = []
    done = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="obsy-test-sub")
    sub.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic, qos=1)

    def on_message(client, userdata, msg):
        got.append((msg.topic, msg.payload, msg.retain))
        done.set()

    sub.on_message = on_message
    sub.connect(mosquitto.host, mosquitto.port)
    sub.loop_start()
    try:
        assert done.wait(timeout=5), "no retained message arrived"
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert got == [(topic, b"open", True)]


def test_stop_removes_directory_restart_keeps_port():
    server = MosquittoServer().start()
    try:
        directory, port = server.directory, server.port
        assert directory.is_dir() and server.running
        server.restart()
        assert (server.directory, server.port) == (directory, port) and server.running
        server.stop()
        assert not server.running and not directory.exists()
        server.start()  # a fresh server in a new directory, on the same port
        assert server.running and server.port == port and server.directory != directory
        fresh = server.directory
    finally:
        server.stop()
    assert not server.running and not fresh.exists()


def test_start_failure_reports_log_tail(tmp_path):
    class Broken(MosquittoServer):
        def _prepare_config(self):
            super()._prepare_config()
            with open(self._dir / "mosquitto.conf", "a") as f:
                f.write("no_such_option_xyz true\n")

    server = Broken(base_dir=tmp_path)
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert "no_such_option_xyz" in str(info.value)
    assert not server.running and list(tmp_path.iterdir()) == []


def test_missing_binary_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(servers, "RABBITMQ_BIN", "/nonexistent/rabbitmq/bin")
    with pytest.raises(ServerNotInstalled, match="'rabbitmq-server'"):
        RabbitMQServer()
    monkeypatch.setattr(servers, "_which", lambda *a, **k: None)
    with pytest.raises(ServerNotInstalled, match="'mosquitto'"):
        MosquittoServer()
