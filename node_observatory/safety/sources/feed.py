"""A remote document (a NOAA product) fetched over HTTP into an on-disk cache.

The safety loop must never wait on the network, so a fetch runs in a background thread and
:meth:`Feed.load` answers from the cache at once (``wait=True``, for one-shot status reports and
tests, waits for the fetch instead). The cache keeps the last good response and the time it was
fetched, in one file written atomically, so a restart starts from it. A response is good only
when ``check`` accepts it: an error page or garbage never replaces good data.

While the cached copy is younger than ``max_age_s`` it is used, with a note when the latest fetch
failed; older, or never fetched, :meth:`load` raises :class:`SourceError` whose message says what
failed and how old the last good copy is, which the source turns into an ``unknown`` reading.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from common.atomicfile import atomic_write

from .base import SourceError

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 16 * 1024 * 1024
USER_AGENT = "OBSY observatory safety monitor"
#: a read this close to the refetch time counts as due (the monitor reads exactly on the cadence)
DUE_SLACK_S = 1.0


class FetchError(Exception):
    """A fetch failed; the message completes "<provider> ..."."""


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def render_url(template: str, now: datetime) -> str:
    """Fill ``{now:%Y%m%d}``-style placeholders (daily HMS files) with the UTC time."""
    return template.format(now=now)


def http_get(url: str, timeout_s: float, max_bytes: int = MAX_FEED_BYTES) -> bytes:
    """GET ``url``; every failure becomes a :class:`FetchError` with a short reason.

    ``timeout_s`` bounds the connection and each read, and the whole transfer is abandoned once
    it has taken longer, so a server that trickles bytes cannot hold a fetch for ever."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    deadline = time.monotonic() + timeout_s
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            chunks, size = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"unreachable (timeout after {timeout_s:g} s)")
                chunk = response.read(64 * 1024)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"sent more than {max_bytes} bytes")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            raise FetchError(f"unreachable (timeout after {timeout_s:g} s)") from None
        if isinstance(exc.reason, ConnectionRefusedError):
            raise FetchError("unreachable (connection refused)") from None
        raise FetchError(f"unreachable ({exc.reason})") from None
    except (socket.timeout, TimeoutError):
        raise FetchError(f"unreachable (timeout after {timeout_s:g} s)") from None
    except (OSError, ValueError) as exc:  # reset mid-transfer, broken HTTP, bad URL
        raise FetchError(f"unreachable ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Cached:
    body: bytes
    fetched_at: datetime
    url: str


def write_cache(path: Path, template: str, cached: Cached) -> None:
    """One file: a JSON header line, then the body, so body and fetch time change together."""
    header = {"template": template, "url": cached.url, "fetched_at": cached.fetched_at.isoformat(),
              "bytes": len(cached.body)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(header).encode() + b"\n" + cached.body)


def read_cache(path: Path, template: str) -> Cached | None:
    """The cached copy, or None when there is none, it is damaged, or the URL was reconfigured."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("feed cache %s unreadable: %s", path, exc)
        return None
    head, _, body = raw.partition(b"\n")
    try:
        header = json.loads(head)
        fetched_at = datetime.fromisoformat(header["fetched_at"])
        if header["template"] != template or header["bytes"] != len(body) or fetched_at.tzinfo is None:
            return None
        return Cached(body, fetched_at, str(header["url"]))
    except (ValueError, KeyError, TypeError):
        log.warning("feed cache %s is damaged; ignoring it", path)
        return None


class Feed:
    """A URL fetched every ``refetch_s`` into ``cache_path``; see the module docstring."""

    def __init__(self, url: str, cache_path: str | Path, provider: str, check: Callable[[bytes], object],
                 refetch_s: float, max_age_s: float, timeout_s: float = 10.0, wait: bool = False,
                 max_bytes: int = MAX_FEED_BYTES):
        self.template = url
        self.label = url
        self.cache_path = Path(cache_path)
        self.provider = provider
        self.check = check
        self.refetch_s = refetch_s
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.wait = wait
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._cached: Cached | None = None
        self._loaded = False
        self._error: str | None = None  # why the latest fetch failed; None after a good one
        self._thread: threading.Thread | None = None

    def _usable(self, body: bytes) -> bool:
        try:
            self.check(body)
            return True
        except SourceError:
            return False

    def _load_disk(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        cached = read_cache(self.cache_path, self.template)
        if cached is not None and self._usable(cached.body):
            self._cached = cached

    def _fetch(self, url: str, started: datetime) -> None:
        try:
            body = http_get(url, self.timeout_s, self.max_bytes)
            try:
                self.check(body)
            except SourceError as exc:
                raise FetchError(f"sent unusable data ({exc})") from None
        except FetchError as exc:
            log.warning("%s fetch of %s failed: %s", self.provider, url, exc)
            with self._lock:
                self._error = str(exc)
            return
        except Exception as exc:  # a bug must not kill the thread silently
            log.exception("%s fetch of %s failed", self.provider, url)
            with self._lock:
                self._error = f"fetch failed ({type(exc).__name__}: {exc})"
            return
        cached = Cached(body, started, url)
        try:
            write_cache(self.cache_path, self.template, cached)
        except OSError as exc:  # still use it from memory; the next restart fetches again
            log.warning("feed cache %s not written: %s", self.cache_path, exc)
        with self._lock:
            self._cached, self._error = cached, None

    def _due(self, now: datetime) -> bool:
        if self._cached is None:
            return True
        return (now - self._cached.fetched_at).total_seconds() >= self.refetch_s - DUE_SLACK_S

    def load(self, now: datetime) -> tuple[bytes, datetime, tuple[str, ...]]:
        """(body, fetch time, notes) of the copy to use now, or :class:`SourceError` saying why none."""
        with self._lock:
            self._load_disk()
            running = self._thread is not None and self._thread.is_alive()
            if not running and self._due(now):
                self._thread = threading.Thread(target=self._fetch, args=(render_url(self.template, now), now),
                                                name=f"feed-{self.cache_path.stem}", daemon=True)
                self._thread.start()
                running = True
            thread = self._thread
        if running and self.wait:
            thread.join(self.timeout_s * 2 + 1.0)  # http_get's own bound is about twice the timeout
        with self._lock:
            cached, error = self._cached, self._error
            running = thread is not None and thread.is_alive()
        age = None if cached is None else (now - cached.fetched_at).total_seconds()
        if cached is not None and age <= self.max_age_s:
            notes = (f"{self.provider} {error}; using data fetched {age_text(age)} ago",) if error else ()
            return cached.body, cached.fetched_at, notes
        what = error or ("first fetch in progress" if running and cached is None else
                         "refetch in progress" if running else "not fetched")
        last = "no data fetched yet" if cached is None else f"last good data {age_text(age)} old"
        raise SourceError(f"{self.provider} {what}; {last}")


def cache_file(cache_dir: str | Path, source_name: str) -> Path:
    return Path(cache_dir) / f"{source_name}.cache"
