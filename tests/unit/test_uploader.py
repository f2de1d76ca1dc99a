from datetime import datetime, timedelta, timezone

import time

import dramatiq
import pytest

from common import names
from common.config import BrokerConfig
from common.contracts import FrameIngested, FrameRejected, parse_message
from common.jobs import make_broker
from common.objectstore import LocalObjectStore, ObjectStoreError
from node_telescope.spool import Spool
from node_telescope.uploader import Uploader


@pytest.fixture
def parts(tmp_path):
    spool = Spool(tmp_path / "spool")
    store = LocalObjectStore(tmp_path / "store")
    broker = make_broker(BrokerConfig(kind="embedded"))
    return spool, store, broker


def queued(broker):
    """The ingest jobs waiting on the in-process broker, decoded."""
    return [parse_message(dramatiq.Message.decode(raw).args[0])
            for raw in list(broker.queues[names.INGEST_QUEUE].queue)]


def test_claim_uploads_then_sends_job_and_waits_for_confirmation(parts):
    spool, store, broker = parts
    entry = spool.add(b"SIMPLE", "m31.fits")
    uploader = Uploader("scope1", spool, store, broker, resend_after_s=60)
    assert uploader.run_once() == 1
    key = names.incoming_key("scope1", entry.sha256)
    assert store.get_bytes(key) == b"SIMPLE"
    jobs = queued(broker)
    assert [(j.key, j.sha256, j.size, j.filename) for j in jobs] == [(key, entry.sha256, 6, "m31.fits")]
    assert uploader.run_once() == 0  # claimed, not yet due again
    uploader.on_event(names.FRAME_INGESTED_KEY, FrameIngested(sha256=entry.sha256, node="scope1",
                                                               frame_id=1, key="frames/x"))
    assert len(spool) == 0


def test_unconfirmed_claim_is_made_again_after_resend_interval(parts):
    spool, store, broker = parts
    entry = spool.add(b"DATA", "a.fits")
    uploader = Uploader("scope1", spool, store, broker, resend_after_s=60)
    uploader.run_once()
    spool.mark_claimed(entry.sha256, datetime.now(timezone.utc) - timedelta(seconds=61))
    store.delete(names.incoming_key("scope1", entry.sha256))  # e.g. master ingested it meanwhile
    assert uploader.run_once() == 1
    assert len(queued(broker)) == 2
    assert store.stat(names.incoming_key("scope1", entry.sha256)).size == 4


def test_events_for_other_nodes_are_ignored_and_rejections_handled(parts):
    spool, store, broker = parts
    a = spool.add(b"A", "a.fits")
    b = spool.add(b"B", "b.fits")
    uploader = Uploader("scope1", spool, store, broker)
    uploader.run_once()
    uploader.on_event("x", FrameIngested(sha256=a.sha256, node="scope2", frame_id=1, key="k"))
    assert len(spool) == 2
    uploader.on_event("x", FrameRejected(sha256=a.sha256, node="scope1", reason="checksum", retry=True))
    assert spool.get(a.sha256).claimed_at is None
    uploader.on_event("x", FrameRejected(sha256=b.sha256, node="scope1", reason="not FITS", retry=False,
                                         kept_key="rejected/scope1/b.fits"))
    assert spool.get(b.sha256) is None


class FlakyStore(LocalObjectStore):
    def __init__(self, root, failures):
        super().__init__(root)
        self.failures = failures

    def put_file(self, key, path, content_type="application/fits"):
        if self.failures:
            self.failures -= 1
            raise ObjectStoreError("S3 server unreachable")
        super().put_file(key, path, content_type)


def test_outage_keeps_entry_unclaimed_and_background_loop_recovers(tmp_path):
    spool = Spool(tmp_path / "spool")
    store = FlakyStore(tmp_path / "store", failures=2)
    broker = make_broker(BrokerConfig(kind="embedded"))
    entry = spool.add(b"X" * 10, "x.fits")
    uploader = Uploader("scope1", spool, store, broker, retry_max_s=0.2, poll_s=0.05)
    with pytest.raises(ObjectStoreError):
        uploader.run_once()
    assert spool.get(entry.sha256).claimed_at is None
    uploader.start()
    try:
        deadline = datetime.now() + timedelta(seconds=5)
        while spool.get(entry.sha256).claimed_at is None and datetime.now() < deadline:
            time.sleep(0.02)
    finally:
        uploader.stop()
    assert spool.get(entry.sha256).claimed_at is not None
    assert len(queued(broker)) == 1
