"""Pyramids of repository objects, built once and kept in a local cache directory.

A pyramid is named after the object's key, size and version (mtime or ETag), so a replaced
object gets a new one. It is
built under an exclusive ``flock`` on a lock file: the first view of a frame fires a dozen tile
requests at once, in several threads and gunicorn workers, and only one of them should read the
FITS file. When the directory grows past ``max_bytes`` the least recently opened pyramids go.
Star catalogues are cached next to the pyramid they were measured on.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from common.objectstore import LocalObjectStore, ObjectStoreError, check_key
from master.fitsmeta.reader import FitsReadError, read_fits
from master.grading import detect_stars
from .pyramid import META, Pyramid, write_pyramid

__all__ = ["ObjectMissing", "ObjectUnreadable", "StoreUnavailable", "ViewerCache", "ViewerError"]

DEFAULT_MAX_BYTES = 4 << 30
STAT_TTL_S = 30.0  # an S3 HEAD per tile would cost more than the tile; objects change only on a new upload
STARS = "stars.json"
FORMAT = 2  # bumped when pyramids change shape (2: colour cubes keep their planes), so old ones are rebuilt


class ViewerError(Exception):
    """The object cannot be shown; ``status`` is the HTTP status, ``message`` says why, for a person."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ObjectMissing(ViewerError):
    status = 404


class ObjectUnreadable(ViewerError):
    status = 422


class StoreUnavailable(ViewerError):
    status = 503


class ViewerCache:
    def __init__(self, root: Path, store, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root)
        self.store = store
        self.max_bytes = max_bytes
        self._open: dict[str, Pyramid] = {}
        self._versions: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def pyramid(self, key: str) -> Pyramid:
        """The object's pyramid, built now if it is not cached; raises a ViewerError otherwise."""
        ident = hashlib.sha256(f"{key}\0{self._version(key)}\0{FORMAT}".encode()).hexdigest()[:40]
        directory = self.root / ident
        with self._lock:
            known = self._open.get(ident)
        if known is not None and (directory / META).exists():
            return known
        if not (directory / META).exists():
            self._build(key, ident, directory)
        os.utime(directory)  # opened: the least recently opened are evicted first
        pyramid = Pyramid(directory)
        with self._lock:
            self._open[ident] = pyramid
        return pyramid

    def stars(self, pyramid: Pyramid) -> list[dict]:
        """Stars detected by the grading code on the full-resolution level (a cube's plane sum), brightest first."""
        path = pyramid.directory / STARS
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            pass
        stars = [asdict(star) for star in detect_stars(pyramid.luminance())]
        tmp = path.with_name(f".{STARS}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(stars))
        os.replace(tmp, path)
        return stars

    # ------------------------------------------------------------------ internals

    def _version(self, key: str) -> str:
        cached = self._versions.get(key)
        if cached is not None and time.monotonic() - cached[1] < STAT_TTL_S:
            return cached[0]
        try:
            info = self.store.stat(check_key(key))
        except ObjectStoreError as exc:
            raise StoreUnavailable(f"the object store cannot be reached: {exc}") from exc
        if info is None:
            raise ObjectMissing(f"there is no file {key} in the repository")
        version = f"{info.size}\0{info.version}"
        self._versions[key] = (version, time.monotonic())
        return version

    def _build(self, key: str, ident: str, directory: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{ident}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (directory / META).exists():  # another thread or worker built it while we waited
                return
            with self._local_copy(key) as path:
                try:
                    header, data = read_fits(path, require_image=True, keep_colour=True)
                except FitsReadError as exc:
                    raise ObjectUnreadable(exc.reason) from exc
            tmp = self.root / f".build-{ident}-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                write_pyramid(tmp, data, header)
                os.rename(tmp, directory)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        self._evict(keep=directory)

    @contextlib.contextmanager
    def _local_copy(self, key: str):
        """A path to the object's bytes: the file itself for a local store, a temporary copy otherwise."""
        if isinstance(self.store, LocalObjectStore):
            yield self.store.root / check_key(key)
            return
        fd, name = tempfile.mkstemp(prefix="obsy-viewer-", suffix=".fits")
        os.close(fd)
        try:
            try:
                self.store.get_file(key, name)
            except KeyError as exc:
                raise ObjectMissing(f"there is no file {key} in the repository") from exc
            except ObjectStoreError as exc:
                raise StoreUnavailable(f"the object store cannot be reached: {exc}") from exc
            yield name
        finally:
            os.unlink(name)

    def _evict(self, keep: Path) -> None:
        entries = []
        for directory in self.root.iterdir():
            if directory.is_dir() and not directory.name.startswith("."):
                size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
                entries.append((directory.stat().st_mtime, size, directory))
        total = sum(size for _, size, _ in entries)
        for _, size, directory in sorted(entries):
            if total <= self.max_bytes:
                break
            if directory != keep:
                shutil.rmtree(directory, ignore_errors=True)
                (self.root / f"{directory.name}.lock").unlink(missing_ok=True)
                with self._lock:
                    self._open.pop(directory.name, None)
                total -= size
