"""The newest all-sky image as indi-allsky records it in its SQLite database.

indi-allsky keeps one row per saved image in its ``image`` table (``filename``, ``createDate``);
file names may be absolute or relative to its image folder. The database is opened read-only
with a short timeout, so a camera program holding a write lock delays a reading, never the node.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .base import SourceError


class IndiAllSkyImages:
    def __init__(self, database: str | Path, image_root: str | Path | None = None, timeout_s: float = 2.0):
        self.database = Path(database)
        self.image_root = Path(image_root) if image_root else None
        self.timeout_s = timeout_s

    def newest(self) -> Path:
        if not self.database.exists():
            raise SourceError(f"indi-allsky database {self.database} does not exist")
        try:
            conn = sqlite3.connect(f"{self.database.resolve().as_uri()}?mode=ro", uri=True, timeout=self.timeout_s)
        except sqlite3.Error as exc:
            raise SourceError(f"cannot open indi-allsky database {self.database}: {exc}") from None
        try:
            row = conn.execute("SELECT filename FROM image ORDER BY createDate DESC, id DESC LIMIT 1").fetchone()
        except sqlite3.Error as exc:  # locked too long, not indi-allsky's schema, not a database
            raise SourceError(f"indi-allsky database {self.database}: {exc}") from None
        finally:
            conn.close()
        if row is None or not row[0]:
            raise SourceError(f"indi-allsky database {self.database} lists no image yet")
        path = Path(row[0])
        if not path.is_absolute():
            if self.image_root is None:
                raise SourceError(f"indi-allsky names {path} relative to its image folder: set image_root")
            path = self.image_root / path
        if not path.is_file():
            raise SourceError(f"indi-allsky's newest image {path} is missing")
        return path
