"""The object store: S3 through the ``minio`` SDK, or a local directory.

Both hold the same keys (``incoming/<node>/<sha256>.fits``,
``frames/<night>/<target>/<filter>/<sha256>.fits`` ...), so switching is a
config change only.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from datetime import timedelta
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator


class ObjectStoreError(Exception):
    """The store could not be reached or refused the request."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # Changes whenever the object is rewritten (S3 ETag, local mtime): FITS sizes are multiples of
    # 2880 bytes, so a rebuilt master often has the old size. None if the store cannot tell.
    version: str | None = None


def check_key(key: str) -> str:
    # Keys are relative POSIX paths; refuse anything that could escape the root.
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or key.endswith("/") or "\\" in key:
        raise ValueError(f"invalid object key {key!r}")
    return key


class ObjectStore(ABC):
    @abstractmethod
    def put_file(self, key: str, path: str | Path, content_type: str = "application/fits") -> None: ...

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    @abstractmethod
    def get_file(self, key: str, path: str | Path) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size of the object, or None when it does not exist."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def copy(self, source: str, dest: str) -> None:
        self.put_bytes(dest, self.get_bytes(source))

    def presigned_get(self, key: str, expires_s: int, download_name: str | None = None) -> str | None:
        """A URL anyone may GET the object from for ``expires_s`` seconds, or None when the store
        cannot give one (a local directory has no server of its own)."""
        return None


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, key: str, writer) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                writer(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key, path, content_type="application/fits"):
        with open(path, "rb") as source:
            self._write(key, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    def put_bytes(self, key, data, content_type="application/octet-stream"):
        self._write(key, lambda out: out.write(data))

    def get_file(self, key, path):
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError:
            raise KeyError(key) from None

    def get_bytes(self, key):
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def stat(self, key):
        try:
            info = self._path(key).stat()
            return ObjectInfo(key, info.st_size, str(info.st_mtime_ns))
        except FileNotFoundError:
            return None

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def copy(self, source, dest):
        src = self._path(source)
        if not src.exists():
            raise KeyError(source)
        with open(src, "rb") as handle:
            self._write(dest, lambda out: shutil.copyfileobj(handle, out, 1 << 20))

    def list(self, prefix=""):
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield ObjectInfo(key, path.stat().st_size)


class S3ObjectStore(ObjectStore):
    """Any S3 server (MinIO in production) through the minio SDK."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 secure: bool = True, region: str = "", create_bucket: bool = True):
        from minio import Minio
        import urllib3

        # Short timeouts and few retries: the caller owns the retry policy.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60), maxsize=8,
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region or None, http_client=http)
        self.bucket = bucket
        if create_bucket:
            self._guard(self._ensure_bucket)

    def _ensure_bucket(self):
        from minio.error import S3Error
        try:
            exists = self.client.bucket_exists(self.bucket)
        except S3Error as exc:
            if exc.code != "AccessDenied":
                raise
            # A node's scoped key may only write its own prefix, not look at the bucket: the
            # master, whose key may, has made it.
            return
        if not exists:
            self.client.make_bucket(self.bucket)

    def _guard(self, fn, *args, **kwargs):
        from minio.error import S3Error
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise KeyError(exc.object_name) from None
            raise ObjectStoreError(f"S3 {exc.code}: {exc.message}") from exc
        except (OSError, Exception) as exc:
            if isinstance(exc, (KeyError, ObjectStoreError)):
                raise
            raise ObjectStoreError(f"S3 server unreachable or failed: {exc}") from exc

    def put_file(self, key, path, content_type="application/fits"):
        self._guard(self.client.fput_object, self.bucket, check_key(key), str(path), content_type=content_type)

    def put_bytes(self, key, data, content_type="application/octet-stream"):
        self._guard(self.client.put_object, self.bucket, check_key(key), io.BytesIO(data), len(data),
                    content_type=content_type)

    def get_file(self, key, path):
        self._guard(self.client.fget_object, self.bucket, check_key(key), str(path))

    def get_bytes(self, key):
        def read():
            response = self.client.get_object(self.bucket, check_key(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        return self._guard(read)

    def stat(self, key):
        from minio.error import S3Error
        try:
            info = self.client.stat_object(self.bucket, check_key(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise ObjectStoreError(f"S3 {exc.code}: {exc.message}") from exc
        except Exception as exc:
            raise ObjectStoreError(f"S3 server unreachable or failed: {exc}") from exc
        return ObjectInfo(key, info.size, info.etag)

    def delete(self, key):
        self._guard(self.client.remove_object, self.bucket, check_key(key))

    def copy(self, source, dest):
        from minio.commonconfig import CopySource
        self._guard(self.client.copy_object, self.bucket, check_key(dest), CopySource(self.bucket, check_key(source)))

    def presigned_get(self, key, expires_s, download_name=None):
        # Signed by the SDK (it asks the server only for the bucket's region when none is configured).
        # The URL names the endpoint as configured: it must be one the user's browser can reach.
        safe = (download_name or "").replace('"', "").replace("\\", "")
        headers = {"response-content-disposition": f'attachment; filename="{safe}"'} if safe else None
        return self._guard(self.client.presigned_get_object, self.bucket, check_key(key),
                           expires=timedelta(seconds=expires_s), response_headers=headers)

    def list(self, prefix=""):
        objects = self._guard(lambda: list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True)))
        for obj in objects:
            yield ObjectInfo(obj.object_name, obj.size)


def open_store(config) -> ObjectStore:
    """Build the store a ``StoreConfig`` describes."""
    if config.kind == "s3":
        return S3ObjectStore(config.endpoint, config.access_key, config.secret_key, config.bucket,
                             secure=config.secure, region=config.region)
    return LocalObjectStore(config.resolved_path())
