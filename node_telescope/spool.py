"""The spool: an outbox of finished frames on local disk.

A frame enters with an atomic write (temp file, fsync, rename, fsync of the
directory), so after kill -9 or a power cut each frame is either wholly in
the spool or not at all. Its state (claimed or not) sits beside it in a small
JSON file written the same way. An entry leaves only when the master has
confirmed the frame (``frame.ingested``) or kept it as rejected.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from common.atomicfile import atomic_write as _atomic_write, fsync_dir as _fsync_dir


@dataclass
class SpoolEntry:
    sha256: str
    size: int
    filename: str
    captured_at: str | None
    claimed_at: str | None = None
    attempts: int = 0

    def claimed_datetime(self) -> datetime | None:
        return datetime.fromisoformat(self.claimed_at) if self.claimed_at else None


class Spool:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.frames = self.root / "frames"
        self.state = self.root / "state"
        self.tmp = self.root / "tmp"
        for folder in (self.frames, self.state, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.recover()

    def recover(self) -> None:
        """Tidy up after a crash: half-written temp files go, orphans are mended."""
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        for frame in self.frames.glob("*.fits"):
            if not (self.state / f"{frame.stem}.json").exists():
                # Frame landed but its state did not: it was never claimed.
                digest = hashlib.sha256(frame.read_bytes()).hexdigest()
                if digest != frame.stem:
                    frame.unlink()  # cannot happen with atomic renames; never keep a lie
                    continue
                self._write_state(SpoolEntry(digest, frame.stat().st_size, frame.name, None))
        for state in self.state.glob("*.json"):
            if not (self.frames / f"{state.stem}.fits").exists():
                state.unlink()

    def frame_path(self, sha256: str) -> Path:
        return self.frames / f"{sha256}.fits"

    def _write_state(self, entry: SpoolEntry) -> None:
        _atomic_write(self.state / f"{entry.sha256}.json", json.dumps(asdict(entry)).encode(), self.tmp)

    def add(self, data: bytes, filename: str, captured_at: datetime | None = None) -> SpoolEntry:
        sha256 = hashlib.sha256(data).hexdigest()
        entry = SpoolEntry(sha256, len(data), filename, captured_at.isoformat() if captured_at else None)
        with self._lock:
            if not self.frame_path(sha256).exists():
                _atomic_write(self.frame_path(sha256), data, self.tmp)
            if not (self.state / f"{sha256}.json").exists():
                self._write_state(entry)
        return entry

    def get(self, sha256: str) -> SpoolEntry | None:
        try:
            return SpoolEntry(**json.loads((self.state / f"{sha256}.json").read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def entries(self) -> list[SpoolEntry]:
        found = []
        for state in sorted(self.state.glob("*.json"), key=lambda p: p.stat().st_mtime):
            entry = self.get(state.stem)
            if entry is not None:
                found.append(entry)
        return found

    def __len__(self) -> int:
        return sum(1 for _ in self.state.glob("*.json"))

    def mark_claimed(self, sha256: str, when: datetime | None = None) -> None:
        with self._lock:
            entry = self.get(sha256)
            if entry is None:
                return
            entry.claimed_at = (when or datetime.now(timezone.utc)).isoformat()
            entry.attempts += 1
            self._write_state(entry)

    def mark_unclaimed(self, sha256: str) -> None:
        with self._lock:
            entry = self.get(sha256)
            if entry is not None and entry.claimed_at is not None:
                entry.claimed_at = None
                self._write_state(entry)

    def remove(self, sha256: str) -> bool:
        with self._lock:
            frame = self.frame_path(sha256)
            existed = frame.exists()
            # State first: a crash between the two leaves a frame that recover() re-adds,
            # never a state pointing at nothing that could be claimed.
            (self.state / f"{sha256}.json").unlink(missing_ok=True)
            frame.unlink(missing_ok=True)
            _fsync_dir(self.frames)
            return existed
