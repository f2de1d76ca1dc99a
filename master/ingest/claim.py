"""The ingest_frame job: the master side of the claim check.

verify size and sha256 → read, normalise, grade, preview → file objects and
row → delete the incoming object → emit ``frame.ingested``. Every step is
safe to repeat, so a crash anywhere is recovered by redelivery; a frame seen
before is acknowledged again without a second row.
"""
from __future__ import annotations

import logging
import os
import tempfile

from common import names
from common.contracts import FrameIngested, FrameRejected, IngestFrame, InvalidMessage, parse_message
from . import keys
from .filing import file_frame, find_frame
from .process import FitsReadError, process_file, sha256_file

log = logging.getLogger(__name__)


def _ingested(services, job: IngestFrame, frame, duplicate: bool) -> None:
    services.bus.publish(names.FRAME_INGESTED_KEY, FrameIngested(
        sha256=job.sha256, node=job.node, frame_id=frame.id, key=frame.key, duplicate=duplicate,
        frame_type=frame.frame_type, object_name=frame.object_name, accepted=frame.accepted))


def _reject(services, job: IngestFrame, reason: str, *, retry: bool, kept_key: str | None = None):
    services.bus.publish(names.FRAME_REJECTED_KEY, FrameRejected(
        sha256=job.sha256, node=job.node, key=job.key, reason=reason, retry=retry, kept_key=kept_key))
    return InvalidMessage(reason)


def ingest_claim(services, raw) -> str:
    """Process one ingest_frame message. Returns 'ingested' or 'duplicate';
    raises InvalidMessage for a message that can never succeed as sent."""
    job = parse_message(raw, IngestFrame)
    if job.key != names.incoming_key(job.node, job.sha256):
        raise InvalidMessage(f"key {job.key!r} is not the incoming key of node {job.node!r} for this sha256")
    store = services.store
    with services.sessions() as session:
        existing = find_frame(session, job.sha256)
    if existing is not None:
        store.delete(job.key)
        _ingested(services, job, existing, duplicate=True)
        return "duplicate"

    info = store.stat(job.key)
    if info is None:
        raise _reject(services, job, f"object {job.key} is not in the store", retry=True)
    if info.size != job.size:
        store.delete(job.key)
        raise _reject(services, job, f"object {job.key} has {info.size} bytes, the job says {job.size}", retry=True)

    fd, tmp = tempfile.mkstemp(prefix="obsy-ingest-", suffix=".fits")
    os.close(fd)
    try:
        store.get_file(job.key, tmp)
        digest, size = sha256_file(tmp)
        if digest != job.sha256 or size != job.size:
            store.delete(job.key)
            raise _reject(services, job, f"checksum mismatch: object {job.key} has sha256 {digest}", retry=True)
        try:
            processed = process_file(tmp)
        except FitsReadError as exc:
            # Keep the bytes for a person to look at; the node may let go of its copy.
            kept = keys.rejected_key(job.node, job.sha256)
            store.copy(job.key, kept)
            store.delete(job.key)
            raise _reject(services, job, f"not a usable FITS image: {exc}", retry=False, kept_key=kept)
        frame, duplicate = file_frame(
            services.sessions, store, processed, job.sha256, job.size,
            lambda key: store.copy(job.key, key), node=job.node, original_name=job.filename, source="node")
    finally:
        os.unlink(tmp)
    store.delete(job.key)
    _ingested(services, job, frame, duplicate)
    log.info("ingested %s from %s as frame %s (%s)", job.sha256[:12], job.node, frame.id, frame.key)
    return "duplicate" if duplicate else "ingested"
