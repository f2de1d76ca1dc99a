"""The uploader: spool → object store → ingest job, until the master confirms.

For each spooled frame: PUT it to ``incoming/<node>/<sha256>.fits`` (unless
the store already holds it whole), send an ``ingest_frame`` job naming it, and
mark it claimed. The spool entry is deleted only on ``frame.ingested`` for its
sha256. A claim with no answer after ``resend_after_s`` is made again: ingest
is idempotent, so a repeat costs work, never a second frame. Outages of the
store or broker are retried with exponential back-off.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from common import names
from common.contracts import FrameIngested, FrameRejected, IngestFrame
from common.jobs import send_ingest_frame
from .spool import Spool, SpoolEntry

log = logging.getLogger(__name__)


class Uploader:
    def __init__(self, node: str, spool: Spool, store, broker, *, resend_after_s: float = 60.0,
                 retry_max_s: float = 30.0, poll_s: float = 1.0):
        self.node = node
        self.spool = spool
        self.store = store
        self.broker = broker
        self.resend_after = timedelta(seconds=resend_after_s)
        self.retry_max_s = retry_max_s
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.confirmed = 0

    # --- events from the master -------------------------------------------------
    def on_event(self, routing_key: str, message) -> None:
        if getattr(message, "node", None) not in (self.node, None):
            return
        if isinstance(message, FrameIngested):
            if self.spool.remove(message.sha256):
                self.confirmed += 1
                log.info("frame %s confirmed as %s; spool entry removed", message.sha256[:12], message.key)
        elif isinstance(message, FrameRejected) and message.sha256:
            if message.retry:
                log.warning("master asks to resend %s: %s", message.sha256[:12], message.reason)
                self.spool.mark_unclaimed(message.sha256)
                self._wake.set()
            else:
                log.error("master rejected %s and kept it at %s: %s", message.sha256[:12], message.kept_key,
                          message.reason)
                self.spool.remove(message.sha256)

    def subscribe(self, bus) -> None:
        bus.subscribe([names.FRAME_INGESTED_KEY, names.FRAME_REJECTED_KEY], self.on_event,
                      queue_name=f"obsy.node.{self.node}")

    # --- the loop ---------------------------------------------------------------
    def notify(self) -> None:
        """A new frame is in the spool: do not wait for the next poll."""
        self._wake.set()

    def due(self, entry: SpoolEntry, now: datetime) -> bool:
        claimed = entry.claimed_datetime()
        return claimed is None or now - claimed >= self.resend_after

    def claim(self, entry: SpoolEntry) -> None:
        key = names.incoming_key(self.node, entry.sha256)
        info = self.store.stat(key)
        if info is None or info.size != entry.size:
            self.store.put_file(key, self.spool.frame_path(entry.sha256))
        captured = datetime.fromisoformat(entry.captured_at) if entry.captured_at else None
        send_ingest_frame(self.broker, IngestFrame(node=self.node, key=key, size=entry.size, sha256=entry.sha256,
                                                   filename=entry.filename, captured_at=captured))
        self.spool.mark_claimed(entry.sha256)

    def run_once(self) -> int:
        """Claim every due entry; returns how many were claimed. Raises on outage."""
        now = datetime.now(timezone.utc)
        claimed = 0
        for entry in self.spool.entries():
            if self._stop.is_set():
                break
            if self.due(entry, now) and self.spool.get(entry.sha256) is not None:
                self.claim(entry)
                claimed += 1
        return claimed

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
                delay = 0.5
                self._wake.wait(self.poll_s)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("upload failed (%s); retrying in %.1f s", self.last_error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"obsy-uploader-{self.node}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
