"""Mosquitto accounts made by ``obsy master credentials create`` on a real, test-owned Mosquitto that
reads the password file and ACL the command wrote: the master publishes, a remote site only reads,
a wrong password is refused."""
from __future__ import annotations

import queue
import re

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from master.cli import master_group
from tests.servers import MosquittoServer

TIMEOUT = 5


def create(node: str, role: str, mqtt_dir) -> tuple[str, str]:
    result = CliRunner().invoke(master_group, ["credentials", "create", node, "--role", role,
                                               "--mqtt-dir", str(mqtt_dir)])
    assert result.exit_code == 0, result.output
    return re.search(r"^user=(\S+) password=(\S+)$", result.stdout, re.M).groups()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    mqtt_dir = tmp_path_factory.mktemp("mqtt-accounts")
    accounts = {"master": create("main", "master", mqtt_dir), "remote": create("public1", "remote", mqtt_dir)}
    server = MosquittoServer(password_file=mqtt_dir / "passwd", acl_file=mqtt_dir / "acl")
    server.start()
    try:
        yield server, accounts
    finally:
        server.stop()


class Client:
    """A paho MQTT 5 client that waits for each answer from the broker."""

    def __init__(self, server, username, password):
        self.answers: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, flags, rc, props: self.answers.put(("connack", rc))
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.answers.put(("suback", rcs))
        self.client.on_publish = lambda c, u, mid, rc, props: self.answers.put(("puback", rc))
        self.client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload, msg.retain))
        self.client.connect(server.host, server.port)
        self.client.loop_start()
        self.connack = self.answer("connack")

    def answer(self, kind):
        got, value = self.answers.get(timeout=TIMEOUT)
        assert got == kind
        return value

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1, retain=True)
        return self.answer("puback")

    def subscribe(self, topic):
        self.client.subscribe(topic, qos=1)
        return self.answer("suback")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()



def test_the_master_publishes_and_the_remote_reads_but_cannot_publish(broker):
    server, accounts = broker
    master = Client(server, *accounts["master"])
    assert master.connack == 0
    assert not master.publish("obsy/home/roof/roof1", b'{"state": "open"}').is_failure
    assert not master.publish("homeassistant/binary_sensor/obsy_home_safe/config", b"{}").is_failure
    master.close()

    remote = Client(server, *accounts["remote"])
    assert remote.connack == 0
    [granted] = remote.subscribe("obsy/home/#")
    assert granted.value == 1  # QoS 1 granted
    assert remote.messages.get(timeout=TIMEOUT) == ("obsy/home/roof/roof1", b'{"state": "open"}', True)
    refused = remote.publish("obsy/home/roof/roof1", b'{"state": "closed"}')
    assert refused.getName() == "Not authorized"
    remote.publish("obsy/home/elsewhere", b"x")
    remote.close()

    again = Client(server, *accounts["remote"])
    again.subscribe("obsy/home/#")
    assert again.messages.get(timeout=TIMEOUT)[1] == b'{"state": "open"}'  # the remote changed nothing
    # Mosquitto grants any subscription and applies read rights to each message it would deliver:
    # the remote's own message elsewhere never arrived, nor does the retained discovery config.
    again.subscribe("homeassistant/#")
    with pytest.raises(queue.Empty):
        again.messages.get(timeout=0.5)
    again.close()


def test_wrong_password_and_unknown_user_are_refused(broker):
    server, accounts = broker
    name, _password = accounts["remote"]
    for username, password in ((name, "not the password"), ("obsy-remote-stranger", "whatever"), (None, None)):
        client = Client(server, username, password)
        client.close()
        assert client.connack.is_failure and client.connack.getName() in ("Not authorized", "Bad user name or password")


def test_the_master_writes_but_does_not_read(broker):
    server, accounts = broker
    master = Client(server, *accounts["master"])
    assert not master.publish("obsy/other/safety", b'{"state": "safe"}').is_failure
    master.subscribe("obsy/#")
    with pytest.raises(queue.Empty):
        master.messages.get(timeout=0.5)  # retained messages are there, not for the master
    master.close()


def test_the_live_publisher_and_the_remote_site_work_with_these_accounts(broker):
    from common.config import MqttConfig
    from common.contracts import SafetyState
    from master.live import LivePublisher
    from node_remote.state import LiveState
    from node_remote.subscriber import LiveSubscriber
    from tests.integration.helpers import wait_for

    server, accounts = broker
    (master_user, master_password), (remote_user, remote_password) = accounts["master"], accounts["remote"]
    common = dict(host=server.host, port=server.port, site="authed", reconnect_max_s=1.0)
    publisher = LivePublisher(MqttConfig(**common, username=master_user, password=master_password, home_assistant=True),
                              client_id="test-authed-master").start()
    state = LiveState("authed")
    subscriber = LiveSubscriber(MqttConfig(**common, username=remote_user, password=remote_password), state,
                                client_id="test-authed-remote").start()
    try:
        assert publisher.connected.wait(5)
        publisher.on_event("observatory.roof1.safety", SafetyState(node="roof1", state="unsafe", reasons=["rain"]))
        wait_for(lambda: state.snapshot()["topics"].get("safety", {}).get("state") == "unsafe", 5,
                 "the remote site to see the master's safety state")
        assert state.snapshot()["topics"]["status"]["state"] == "online"
    finally:
        subscriber.stop()
        publisher.stop()
