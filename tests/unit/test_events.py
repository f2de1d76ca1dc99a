
import pytest

from common.contracts import NodeHeartbeat
from common.events import InProcessEventBus, topic_matches


@pytest.mark.parametrize("pattern, key, expected", [
    ("*.*.heartbeat", "telescope.scope1.heartbeat", True),
    ("*.*.heartbeat", "telescope.scope1.status", False),
    ("master.frame.ingested", "master.frame.ingested", True),
    ("master.#", "master.frame.ingested", True),
    ("#", "a.b.c", True),
    ("a.*", "a.b.c", False),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.x.y.c", True),
])
def test_topic_matching_follows_amqp_rules(pattern, key, expected):
    assert topic_matches(pattern, key) is expected


def test_in_process_bus_delivers_in_order_and_survives_bad_events_and_handlers():
    bus = InProcessEventBus()
    seen = []

    def handler(key, message):
        if message.state == "boom":
            raise RuntimeError("handler bug")
        seen.append((key, message.state))

    bus.subscribe(["*.*.heartbeat"], handler)
    bus.publish("telescope.s1.heartbeat", NodeHeartbeat(node="s1", role="telescope", software_version="1", state="a"))
    bus.publish_raw("telescope.s1.heartbeat", b"{broken")
    bus.publish("telescope.s1.heartbeat", NodeHeartbeat(node="s1", role="telescope", software_version="1", state="boom"))
    bus.publish("telescope.s1.status", NodeHeartbeat(node="s1", role="telescope", software_version="1", state="x"))
    bus.publish("telescope.s1.heartbeat", NodeHeartbeat(node="s1", role="telescope", software_version="1", state="b"))
    bus.drain()
    assert seen == [("telescope.s1.heartbeat", "a"), ("telescope.s1.heartbeat", "b")]
    assert len(bus.dead) == 1 and "not JSON" in bus.dead[0][1]
    bus.close()
