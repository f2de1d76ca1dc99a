"""Write a small file so that a crash leaves either the old or the new content, never half."""
from __future__ import annotations

import os
import threading
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes, tmp_dir: Path | None = None, durable: bool = True) -> None:
    """temp file in ``tmp_dir`` (same filesystem), fsync, rename, fsync the directory.

    ``durable=False`` skips both fsyncs: readers still never see half a file, but a power cut may
    lose the write (for a file rewritten every second, where flash wear matters more)."""
    target = Path(target)
    tmp_dir = Path(tmp_dir) if tmp_dir is not None else target.parent
    tmp = tmp_dir / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, target)
    if durable:
        fsync_dir(target.parent)
