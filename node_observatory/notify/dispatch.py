"""Deliver notices from background threads so that a slow or dead server never holds up the node.

Each channel has its own thread and a small bounded queue: one channel that hangs does not delay
another, and a backlog is dropped (oldest first) rather than growing without bound. A send is
retried a few times with a pause; a channel that still fails is logged and the next notice tried.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from .notice import Notice

log = logging.getLogger(__name__)


class Notifier(Protocol):
    name: str

    def send(self, notice: Notice) -> None: ...

    def describe(self) -> str: ...


class ChannelWorker:
    def __init__(self, notifier: Notifier, attempts: int = 3, retry_s: float = 5.0, backlog: int = 20):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.notifier = notifier
        self.attempts = attempts
        self.retry_s = retry_s
        self.queue: queue.Queue[Notice | None] = queue.Queue(maxsize=backlog)
        self.stop = threading.Event()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=f"notify-{notifier.name}", daemon=True)

    def start(self) -> ChannelWorker:
        self.thread.start()
        return self

    def submit(self, notice: Notice) -> None:
        """Never blocks: a full backlog loses its oldest notice."""
        while True:
            try:
                self.queue.put_nowait(notice)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                    log.warning("notifier %s is behind: oldest queued notice dropped", self.notifier.name)
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while not self.stop.is_set():
            notice = self.queue.get()
            if notice is None:
                return
            self._deliver(notice)

    def _deliver(self, notice: Notice) -> None:
        last, attempt = "", 0
        for attempt in range(1, self.attempts + 1):
            try:
                self.notifier.send(notice)
                self.sent += 1
                return
            except Exception as exc:  # any failure of a channel is logged; the node carries on
                last = f"{type(exc).__name__}: {exc}"
                if attempt < self.attempts:
                    log.info("notifier %s: attempt %d failed (%s); retrying", self.notifier.name, attempt, last)
                    if self.stop.wait(self.retry_s * attempt):  # shutting down: no more waiting
                        break
        self.failed += 1
        log.warning("notifier %s: %r not sent after %d attempt(s): %s", self.notifier.name, notice.title,
                    attempt, last)

    def close(self, timeout_s: float = 2.0) -> None:
        self.stop.set()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        self.thread.join(timeout_s)


class Dispatcher:
    """Hands every notice to every channel's worker; :meth:`submit` returns at once."""

    def __init__(self, notifiers: list[Notifier], attempts: int = 3, retry_s: float = 5.0):
        self.workers = [ChannelWorker(n, attempts, retry_s).start() for n in notifiers]

    def submit(self, notice: Notice) -> None:
        for worker in self.workers:
            worker.submit(notice)

    def describe(self) -> str:
        if not self.workers:
            return "no notifications"
        return "notifications: " + "; ".join(w.notifier.describe() for w in self.workers)

    def close(self, timeout_s: float = 2.0) -> None:
        for worker in self.workers:
            worker.close(timeout_s)
