"""The ingest_frame job: the master side of the claim check.

verify size and sha256 → read, normalise, grade, preview → file objects and
row → delete the incoming object → emit ``frame.ingested``. A ``.ser`` key is a SER video: its
header is checked, it is filed under ``ser/`` with a ``ser_captures`` row, and ``on_ser(id)`` is
called so that a reconstruction job follows. Every step is
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
from .ser import SerError, file_ser, find_capture, inspect_ser

log = logging.getLogger(__name__)


def _ingested(services, job: IngestFrame, frame, duplicate: bool) -> None:
    services.bus.publish(names.FRAME_INGESTED_KEY, FrameIngested(
        sha256=job.sha256, node=job.node, frame_id=frame.id, key=frame.key, duplicate=duplicate,
        frame_type=frame.frame_type, object_name=frame.object_name, accepted=frame.accepted))


def _reject(services, job: IngestFrame, reason: str, *, retry: bool, kept_key: str | None = None):
    services.bus.publish(names.FRAME_REJECTED_KEY, FrameRejected(
        sha256=job.sha256, node=job.node, key=job.key, reason=reason, retry=retry, kept_key=kept_key))
    return InvalidMessage(reason)


def _suffix(job: IngestFrame) -> str | None:
    for suffix in names.INCOMING_SUFFIXES:
        if job.key == names.incoming_key(job.node, job.sha256, suffix):
            return suffix
    return None


def ingest_claim(services, raw, on_ser=None) -> str:
    """Process one ingest_frame message. Returns 'ingested' or 'duplicate';
    raises InvalidMessage for a message that can never succeed as sent."""
    job = parse_message(raw, IngestFrame)
    suffix = _suffix(job)
    if suffix is None:
        raise InvalidMessage(f"key {job.key!r} is not the incoming key of node {job.node!r} for this sha256")
    is_ser = suffix == ".ser"
    store = services.store
    with services.sessions() as session:
        existing = (find_capture if is_ser else find_frame)(session, job.sha256)
    if existing is not None and is_ser:
        store.delete(job.key)
        return "duplicate"
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

    fd, tmp = tempfile.mkstemp(prefix="obsy-ingest-", suffix=suffix)
    os.close(fd)
    try:
        store.get_file(job.key, tmp)
        digest, size = sha256_file(tmp)
        if digest != job.sha256 or size != job.size:
            store.delete(job.key)
            raise _reject(services, job, f"checksum mismatch: object {job.key} has sha256 {digest}", retry=True)
        if is_ser:
            return _ingest_ser(services, job, tmp, on_ser)
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


def _ingest_ser(services, job: IngestFrame, path: str, on_ser) -> str:
    store = services.store
    try:
        row = inspect_ser(path)
    except SerError as exc:
        kept = keys.rejected_key(job.node, job.sha256, ".ser")
        store.copy(job.key, kept)
        store.delete(job.key)
        raise _reject(services, job, f"not a usable SER video: {exc}", retry=False, kept_key=kept)
    capture, duplicate = file_ser(services.sessions, row, job.sha256, job.size, lambda key: store.copy(job.key, key),
                                  node=job.node, original_name=job.filename, source="node")
    store.delete(job.key)
    if not duplicate and on_ser is not None:
        on_ser(capture.id)
    log.info("ingested SER %s from %s as capture %s (%s)", job.sha256[:12], job.node, capture.id, capture.key)
    return "duplicate" if duplicate else "ingested"
