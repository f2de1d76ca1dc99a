import json

import pytest

from common.contracts import FrameIngested, IngestFrame, InvalidMessage, NodeHeartbeat, parse_message

SHA = "a" * 64


def test_round_trip_carries_schema_and_version():
    job = IngestFrame(node="scope1", key=f"incoming/scope1/{SHA}.fits", size=10, sha256=SHA)
    wire = json.loads(job.to_json())
    assert wire["schema"] == "obsy.ingest_frame" and wire["version"] == 1
    assert parse_message(job.to_json()) == job
    assert parse_message(job.to_json().encode(), IngestFrame) == job


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe", "not UTF-8"),
    ("{not json", "not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ({"schema": "obsy.nope", "version": 1}, "unknown message schema"),
    ({"schema": "obsy.ingest_frame", "version": 9}, "version 9 is not supported"),
    ({"schema": "obsy.ingest_frame", "version": 1, "node": "scope1", "key": "k", "size": -1, "sha256": SHA},
     "size"),
    ({"schema": "obsy.ingest_frame", "version": 1, "node": "scope1", "key": "k", "size": 1, "sha256": "xyz"},
     "sha256"),
])
def test_invalid_messages_say_why(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(raw)


def test_expected_type_is_enforced():
    beat = NodeHeartbeat(node="scope1", role="telescope", software_version="0.1")
    with pytest.raises(InvalidMessage, match="expected schema"):
        parse_message(beat.to_json(), FrameIngested)


def test_unknown_fields_are_ignored_for_compatible_additions():
    beat = NodeHeartbeat(node="scope1", role="telescope", software_version="0.1").to_wire()
    beat["added_later"] = 42
    assert parse_message(beat).node == "scope1"
