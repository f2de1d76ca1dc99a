"""Data collection: every N-th classified frame copied to ``<dir>/<label>/`` for review and retraining."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

__all__ = ["Collector"]


class Collector:
    def __init__(self, directory: str | Path, every: int = 1):
        if every < 1:
            raise ValueError(f"collect every N-th image: N must be >= 1, got {every}")
        self.directory, self.every, self.seen = Path(directory), every, 0

    def offer(self, path: str | Path, label: str) -> Path | None:
        """Copy ``path`` under its verdict if it is the N-th offered; the copy's path, or None.

        The copy is named after the frame's time, then its name: all-sky programs often overwrite
        one file (``latest.jpg``), and each copy must stay. Raises OSError if the copy fails.
        """
        self.seen += 1
        if self.seen % self.every:
            return None
        source = Path(path)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(source.stat().st_mtime))
        folder = self.directory / label
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{stamp}_{source.name}"
        n = 1
        while target.exists():
            target = folder / f"{stamp}-{n}_{source.name}"
            n += 1
        shutil.copy2(source, target)
        return target
