"""SER videos through ingest (claim check and ``obsy ingest``) and the Sol'ex job, with provenance."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import dramatiq
import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from common import names
from common.contracts import FrameRejected, IngestFrame, InvalidMessage, SolexJob
from common.events import InProcessEventBus
from master.ingest.claim import ingest_claim
from master.ingest.local import collect, ingest_paths
from master.models import DeadLetter, Product, ProductInput, SerCapture
from master.science.cli import solex_group
from master.science.products import products_of_capture
from master.science.ser import write_ser
from master.science.solex_job import run_solex
from master.worker import build_broker
from tests.unit.test_science_solex import RADIUS, SQUEEZE, scan
from tests.unit.test_web_support import make_services

START = datetime(2024, 6, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ser_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("ser") / "sun.ser"
    frames = scan()
    write_ser(path, frames, pixel_depth=12, observer="Tester",
              timestamps=[START + timedelta(milliseconds=20 * i) for i in range(len(frames))])
    return path.read_bytes()


@pytest.fixture
def services(tmp_path, monkeypatch):
    bus = InProcessEventBus()
    services = make_services(tmp_path, monkeypatch)
    services._bus = bus
    services.events = []
    bus.subscribe(["master.#"], lambda key, message: services.events.append(message))
    yield services
    services.close()


def claim(services, data: bytes, node="scope1") -> IngestFrame:
    sha = hashlib.sha256(data).hexdigest()
    key = names.incoming_key(node, sha, ".ser")
    services.store.put_bytes(key, data)
    return IngestFrame(node=node, key=key, size=len(data), sha256=sha, filename="sun.ser")


def captures(services) -> list[SerCapture]:
    with services.sessions() as session:
        return list(session.scalars(select(SerCapture)))


def test_ser_claim_is_verified_filed_and_reconstructed_with_provenance(services, ser_bytes):
    job = claim(services, ser_bytes)
    queued = []
    assert ingest_claim(services, job.to_wire(), on_ser=queued.append) == "ingested"
    [capture] = captures(services)
    assert capture.key == f"ser/2024-06-01/{job.sha256}.ser" and capture.state == "queued"
    assert (capture.width, capture.height, capture.frame_count, capture.observer) == (48, 140, 170, "Tester")
    assert services.store.get_bytes(capture.key) == ser_bytes and services.store.stat(job.key) is None
    assert queued == [capture.id]
    # the same video again: one row, no second job
    assert ingest_claim(services, claim(services, ser_bytes).to_wire(), on_ser=queued.append) == "duplicate"
    assert len(captures(services)) == 1 and queued == [capture.id]

    assert run_solex(services, SolexJob(ser_capture_id=capture.id).to_wire()) == 2
    assert run_solex(services, SolexJob(ser_capture_id=capture.id).to_wire()) == 2  # redelivered: replaced
    with services.sessions() as session:
        products = products_of_capture(session, capture.id)
        assert sorted(p.kind for p in products) == ["solex_fits", "solex_png"]
        assert session.scalar(select(SerCapture)).state == "done"
        assert len(session.scalars(select(ProductInput)).all()) == 2
        for product in products:
            data = services.store.get_bytes(product.key)
            assert hashlib.sha256(data).hexdigest() == product.sha256 and product.size == len(data)
            assert product.key.startswith(f"products/solex/2024-06-01/{job.sha256}/")
            assert product.parameters["radius_px"] == pytest.approx(RADIUS, rel=0.03)
            assert product.parameters["scale_x"] == pytest.approx(SQUEEZE, rel=0.01)
        fits_key = next(p.key for p in products if p.kind == "solex_fits")
    header = fits.Header.fromstring(services.store.get_bytes(fits_key)[:2880 * 4])
    assert header["SOLRAD"] == pytest.approx(RADIUS, rel=0.03) and header["NFRAMES"] == 170


def test_malformed_ser_claim_is_rejected_with_its_reason_and_kept(services, ser_bytes):
    broken = ser_bytes[:178 + 48 * 140 * 2 * 10]  # the header promises 170 frames, 10 are there
    job = claim(services, broken)
    with pytest.raises(InvalidMessage, match="not a usable SER video: file truncated"):
        ingest_claim(services, job.to_wire(), on_ser=lambda capture_id: pytest.fail("no job for a bad file"))
    assert captures(services) == []
    assert services.store.get_bytes(f"rejected/scope1/{job.sha256}.ser") == broken
    services.bus.drain()
    [event] = [e for e in services.events if isinstance(e, FrameRejected)]
    assert event.retry is False and "truncated" in event.reason
    not_ser = claim(services, b"SIMPLE  =   T" + b" " * 200)
    with pytest.raises(InvalidMessage, match="not a usable SER video"):
        ingest_claim(services, not_ser.to_wire())


def test_worker_dead_letters_bad_ser_and_scan_and_goes_on(services, ser_bytes, tmp_path):
    broker = build_broker(services, broker=StubBroker())
    broker.emit_after("process_boot")
    good, bad = claim(services, ser_bytes), claim(services, ser_bytes[:500])
    # a whole SER file whose frames hold no Sun: filed, then its reconstruction fails
    blank = claim(services, write_ser(tmp_path / "dark.ser", np.zeros((20, 30, 40), np.uint16), pixel_depth=12)
                  .read_bytes())
    for job in (bad, blank, good):
        broker.enqueue(dramatiq.Message(queue_name=names.INGEST_QUEUE, actor_name=names.INGEST_FRAME_ACTOR,
                                        args=(job.to_wire(),), kwargs={}, options={}))
    worker = Worker(broker, queues={names.INGEST_QUEUE, names.SCIENCE_QUEUE}, worker_timeout=50)
    worker.start()
    try:
        broker.join(names.INGEST_QUEUE, timeout=60_000, fail_fast=False)
        broker.join(names.SCIENCE_QUEUE, timeout=120_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    with services.sessions() as session:
        letters = {row.queue: row for row in session.scalars(select(DeadLetter))}
        states = {row.sha256: (row.state, row.reason) for row in session.scalars(select(SerCapture))}
        kinds = sorted(p.kind for p in session.scalars(select(Product)))
    assert set(letters) == {names.INGEST_QUEUE, names.SCIENCE_QUEUE}
    assert "not a usable SER video" in letters[names.INGEST_QUEUE].reason
    assert json.loads(letters[names.INGEST_QUEUE].body)["sha256"] == bad.sha256
    assert states[blank.sha256][0] == "failed" and states[blank.sha256][1] in letters[names.SCIENCE_QUEUE].reason
    assert states[good.sha256] == ("done", None) and kinds == ["solex_fits", "solex_png"]


def test_obsy_ingest_files_ser_videos_and_queues_them(services, ser_bytes, tmp_path):
    folder = tmp_path / "capture"
    folder.mkdir()
    (folder / "sun.SER").write_bytes(ser_bytes)
    (folder / "broken.ser").write_bytes(b"LUCAM-RECORDER")
    (folder / "notes.txt").write_text("not data")
    queued = []
    rows = list(ingest_paths(services, collect([folder]), on_ser=queued.append))
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in rows}
    assert set(by_name) == {"sun.SER", "broken.ser"}
    assert by_name["sun.SER"]["status"] == "ingested" and by_name["sun.SER"]["frames"] == 170
    assert by_name["broken.ser"]["status"] == "rejected" and "too short" in by_name["broken.ser"]["reason"]
    [capture] = captures(services)
    assert queued == [capture.id] and capture.source == "import" and capture.original_name == "sun.SER"
    again = list(ingest_paths(services, [folder / "sun.SER"], on_ser=queued.append))
    assert again[0]["status"] == "duplicate" and queued == [capture.id]


def test_obsy_solex_reconstruct(ser_bytes, tmp_path):
    path = tmp_path / "scan.ser"
    path.write_bytes(ser_bytes)
    result = CliRunner().invoke(solex_group, ["reconstruct", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scan_p0.fits", "scan_p0.png"]
    assert fits.getheader(tmp_path / "out" / "scan_p0.fits")["SOLRAD"] == pytest.approx(RADIUS, rel=0.03)
    (tmp_path / "bad.ser").write_bytes(b"nope")
    result = CliRunner().invoke(solex_group, ["reconstruct", str(tmp_path / "bad.ser")])
    assert result.exit_code != 0 and "too short" in result.output


def test_obsy_ingest_on_embedded_defaults_reconstructs_at_once(ser_bytes, tmp_path, monkeypatch):
    """The in-process broker of a CLI run dies with it: the scan is reconstructed before ingest returns."""
    from common.cli import obsy
    from common.config import load_config
    from master.services import MasterServices

    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "sun.ser").write_bytes(ser_bytes)
    write_ser(tmp_path / "flat.ser", np.full((40, 64, 48), 900, np.uint16), pixel_depth=12)
    result = CliRunner().invoke(obsy, ["ingest", "--json", str(tmp_path / "sun.ser"), str(tmp_path / "flat.ser")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {json.loads(line)["path"].rsplit("/", 1)[1]: json.loads(line) for line in result.output.splitlines()}
    assert rows["sun.ser"]["solex"] == "done" and rows["sun.ser"]["solex_products"] == 2
    assert rows["flat.ser"]["status"] == "ingested" and rows["flat.ser"]["solex"] == "failed"
    assert rows["flat.ser"]["solex_reason"]
    services = MasterServices(load_config("master"))
    with services.sessions() as session:
        states = {c.original_name: (c.state, c.reason) for c in session.scalars(select(SerCapture))}
        products = products_of_capture(session, rows["sun.ser"]["ser_capture_id"])
        assert sorted(p.kind for p in products) == ["solex_fits", "solex_png"]
    services.close()
    assert states["sun.ser"] == ("done", None) and states["flat.ser"][0] == "failed"
    assert states["flat.ser"][1] == rows["flat.ser"]["solex_reason"]
