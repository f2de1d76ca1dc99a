"""Send a stored object to the browser as a file download, without holding it in memory."""
from __future__ import annotations

import os
import tempfile

from flask import abort, send_file

from common.objectstore import LocalObjectStore, ObjectStoreError, check_key
from .context import services


def send_object(key: str, download_name: str, mimetype: str = "application/fits"):
    """The local store is sent from disk, S3 through a temporary file; 404 if missing, 503 if unreachable."""
    store = services().store
    options = {"mimetype": mimetype, "as_attachment": True, "download_name": download_name}
    if isinstance(store, LocalObjectStore):
        path = store.root / check_key(key)
        if not path.is_file():
            abort(404)
        response = send_file(path, conditional=True, **options)
    else:
        handle = _fetch_to_temp(store, key)
        response = send_file(handle, **options)
        response.content_length = os.fstat(handle.fileno()).st_size
    response.cache_control.private = True  # never kept by a shared cache
    return response


def _fetch_to_temp(store, key: str):
    """An open file holding the object; its name is already unlinked so nothing is left behind."""
    fd, path = tempfile.mkstemp(prefix="obsy-download-", suffix=".fits")
    os.close(fd)
    try:
        store.get_file(key, path)
        return open(path, "rb")
    except KeyError:
        abort(404)
    except ObjectStoreError:
        abort(503)
    finally:
        os.unlink(path)
