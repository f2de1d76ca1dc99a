"""Ingest on the embedded parts: claim check (job path) and import from disk."""
from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from common import names
from common.config import load_config
from common.contracts import FrameIngested, FrameRejected, IngestFrame, InvalidMessage
from common.events import InProcessEventBus
from master.ingest.claim import ingest_claim
from master.models import Frame, FrameHeader
from master.services import MasterServices
from node_telescope.simulator import SimulatedCamera, to_bytes

WHEN = datetime(2026, 11, 24, 22, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def frame_bytes():
    camera = SimulatedCamera(width=640, height=480)
    return to_bytes(camera.capture(10.68, 41.27, 120, "Ha", "light", WHEN, object_name="M 31", rng_seed=1))


@pytest.fixture
def services(tmp_path):
    config = load_config("master", None, database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
                         store={"kind": "local", "path": str(tmp_path / "repo")})
    bus = InProcessEventBus()
    events = []
    bus.subscribe(["master.#"], lambda key, message: events.append(message))
    services = MasterServices(config, bus=bus)
    services.events = events
    yield services
    services.close()


def claim(services, data: bytes, node="scope1") -> IngestFrame:
    sha = hashlib.sha256(data).hexdigest()
    key = names.incoming_key(node, sha)
    services.store.put_bytes(key, data)
    return IngestFrame(node=node, key=key, size=len(data), sha256=sha, filename="m31.fits")


def frames(services):
    with services.sessions() as session:
        return session.scalars(select(Frame)).all()


def test_claim_is_verified_filed_and_confirmed_once(services, frame_bytes):
    job = claim(services, frame_bytes)
    assert ingest_claim(services, job.to_wire()) == "ingested"
    [frame] = frames(services)
    assert frame.key == f"frames/2026-11-24/M_31/Ha/{job.sha256}.fits"
    assert services.store.get_bytes(frame.key) == frame_bytes
    assert services.store.stat(job.key) is None  # incoming copy removed
    assert frame.object_name == "M 31" and frame.frame_type == "light" and frame.exposure_s == 120
    assert frame.star_count > 5 and frame.hfr_px > 0 and frame.accepted
    assert services.store.stat(frame.thumb_key).size > 100 and services.store.stat(frame.preview_key).size > 100
    with services.sessions() as session:
        assert "OBJECT = M 31" in session.get(FrameHeader, frame.id).text

    # The node never heard back and claims again: same frame, one row, confirmed again.
    again = claim(services, frame_bytes)
    assert ingest_claim(services, again.to_wire()) == "duplicate"
    assert len(frames(services)) == 1
    assert services.store.stat(again.key) is None
    services.bus.drain()
    confirmations = [e for e in services.events if isinstance(e, FrameIngested)]
    assert [(e.sha256, e.duplicate) for e in confirmations] == [(job.sha256, False), (job.sha256, True)]


def test_checksum_mismatch_is_rejected_and_resend_requested(services, frame_bytes):
    job = claim(services, frame_bytes)
    services.store.put_bytes(job.key, frame_bytes[:-1] + b"X")  # corrupted in transit
    with pytest.raises(InvalidMessage, match="checksum mismatch"):
        ingest_claim(services, job.to_wire())
    services.bus.drain()
    [rejected] = [e for e in services.events if isinstance(e, FrameRejected)]
    assert rejected.retry is True and frames(services) == []


def test_missing_object_and_foreign_key_are_rejected(services, frame_bytes):
    sha = hashlib.sha256(frame_bytes).hexdigest()
    job = IngestFrame(node="scope1", key=names.incoming_key("scope1", sha), size=len(frame_bytes), sha256=sha)
    with pytest.raises(InvalidMessage, match="not in the store"):
        ingest_claim(services, job.to_wire())
    spoof = IngestFrame(node="scope1", key=names.incoming_key("scope2", sha), size=1, sha256=sha)
    with pytest.raises(InvalidMessage, match="not the incoming key"):
        ingest_claim(services, spoof.to_wire())
    with pytest.raises(InvalidMessage, match="not JSON"):
        ingest_claim(services, "{")


def test_unreadable_frame_is_kept_aside_and_node_released(services):
    job = claim(services, b"this is not a FITS file at all" * 100)
    with pytest.raises(InvalidMessage, match="not a usable FITS image"):
        ingest_claim(services, job.to_wire())
    kept = f"rejected/scope1/{job.sha256}.fits"
    assert services.store.stat(kept) is not None and services.store.stat(job.key) is None
    services.bus.drain()
    [rejected] = [e for e in services.events if isinstance(e, FrameRejected)]
    assert rejected.retry is False and rejected.kept_key == kept


def test_obsy_ingest_json_from_disk(tmp_path, frame_bytes, monkeypatch):
    folder = tmp_path / "night"
    (folder / "sub").mkdir(parents=True)
    (folder / "light.fits").write_bytes(frame_bytes)
    (folder / "sub" / "light_copy.fit.gz").write_bytes(gzip.compress(frame_bytes))
    (folder / "truncated.fits").write_bytes(frame_bytes[: len(frame_bytes) // 2])
    (folder / "notes.fits").write_text("not fits\n")
    (folder / "ignored.txt").write_text("folders only contribute FITS-named files")
    from common.cli import obsy

    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(obsy, ["ingest", "--json", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {json.loads(line)["path"].split("/")[-1]: json.loads(line) for line in result.output.splitlines()}
    assert set(rows) == {"light.fits", "light_copy.fit.gz", "truncated.fits", "notes.fits"}
    light = rows["light.fits"]
    assert light["status"] == "ingested" and light["frame_type"] == "light" and light["filter"] == "Ha"
    assert light["object"] == "M 31" and light["exposure_s"] == 120 and light["binning"] == "1x1"
    assert light["date_obs"] == "2026-11-24T22:30:00Z" and light["star_count"] > 5
    assert rows["light_copy.fit.gz"]["status"] == "ingested"  # different bytes on disk, its own sha256
    for bad in ("truncated.fits", "notes.fits"):
        assert rows[bad]["status"] == "rejected" and rows[bad]["reason"]

    second = runner.invoke(obsy, ["ingest", "--json", str(folder)], catch_exceptions=False)
    statuses = sorted(json.loads(line)["status"] for line in second.output.splitlines())
    assert statuses == ["duplicate", "duplicate", "rejected", "rejected"]
    services = MasterServices(load_config("master"))
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Frame)) == 2
    services.close()
