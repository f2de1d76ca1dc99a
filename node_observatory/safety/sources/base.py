"""The source interface and helpers to read a file or run a command without letting errors escape."""
from __future__ import annotations

import abc
import logging
import os
import shlex
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from ..reading import Reading

log = logging.getLogger(__name__)

#: no safety input file is expected to be larger than this
MAX_INPUT_BYTES = 32 * 1024 * 1024


class SourceError(Exception):
    """The input cannot be used; the message is the reason shown to the user."""


class SafetySource(abc.ABC):
    """Something that says whether it is safe to observe.

    Subclasses implement :meth:`measure`; :meth:`read` never raises: any error becomes an
    ``unknown`` reading whose reason says what went wrong.
    """

    def __init__(self, name: str):
        self.name = name

    def read(self, now: datetime) -> Reading:
        try:
            return self.measure(now)
        except SourceError as exc:
            return Reading.unknown(self.name, str(exc))
        except Exception as exc:  # a bug or an unexpected input must not stop the monitor
            log.exception("safety source %s failed", self.name)
            return Reading.unknown(self.name, f"source failed: {type(exc).__name__}: {exc}")

    @abc.abstractmethod
    def measure(self, now: datetime) -> Reading:
        """Return a reading, or raise :class:`SourceError` with a reason."""


def read_bytes(path: str | Path, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"file {path} does not exist") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceError(f"file {path} is larger than {max_bytes} bytes")
    return data


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_text(path: str | Path, max_bytes: int = MAX_INPUT_BYTES) -> str:
    return decode_text(read_bytes(path, max_bytes))


def file_mtime(path: str | Path) -> datetime:
    try:
        return datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc)
    except OSError as exc:
        raise SourceError(f"cannot stat {path}: {exc.strerror or exc}") from None


class FileInput:
    """A file that another program keeps up to date; its time is the file's mtime.

    Has the same ``load`` as :class:`~.feed.Feed`, so a source reads either without caring."""

    def __init__(self, path: str | Path, max_bytes: int = MAX_INPUT_BYTES):
        self.path = Path(path)
        self.label = str(self.path)
        self.max_bytes = max_bytes

    def load(self, now: datetime) -> tuple[bytes, datetime, tuple[str, ...]]:
        return read_bytes(self.path, self.max_bytes), file_mtime(self.path), ()


def run_argv(command: str, timeout_s: float = 20.0) -> subprocess.CompletedProcess:
    """Run ``command`` (split like a shell would, but without a shell); any exit status is returned.

    The command runs in its own process group, killed as a whole on timeout: a child it started
    that keeps the output pipe open would otherwise keep the caller waiting after the kill."""
    argv = shlex.split(command)
    if not argv:
        raise SourceError("command is empty")
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
    except FileNotFoundError:
        raise SourceError(f"command not found: {argv[0]}") from None
    except OSError as exc:
        raise SourceError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            process.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:  # a child that left the group still holds a pipe: stop waiting
            pass
        raise SourceError(f"command {argv[0]} did not finish within {timeout_s:g} s") from None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def last_line(data: bytes) -> str:
    return (data.decode("utf-8", "replace").strip().splitlines()[-1:] or [""])[0][:200]


def run_command(command: str, timeout_s: float = 20.0, max_bytes: int = 1024 * 1024) -> str:
    """Run ``command`` and return its stdout; a non-zero exit status is an error."""
    done = run_argv(command, timeout_s)
    if done.returncode != 0:
        raise SourceError(f"command {done.args[0]} exited with status {done.returncode}: {last_line(done.stderr)}")
    if len(done.stdout) > max_bytes:
        raise SourceError(f"command {done.args[0]} printed more than {max_bytes} bytes")
    return done.stdout.decode("utf-8", "replace")


def parse_time(text: object, default_tz=timezone.utc) -> datetime:
    """ISO 8601 (``T`` or space, optional ``Z``/offset); naive times are in ``default_tz``."""
    if not isinstance(text, str) or not text.strip():
        raise SourceError(f"time {text!r} is not an ISO 8601 string")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SourceError(f"time {text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    return moment.astimezone(timezone.utc)
