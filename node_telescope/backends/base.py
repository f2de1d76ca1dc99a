"""The interfaces of the imaging backends (simulator, INDI, EKOS).

Two kinds: an ``ImagingBackend`` is sequenced frame by frame by OBSY's job
runner (simulator, INDI); a ``ScheduleBackend`` runs a whole job with its
own scheduler and hands each frame back (EKOS). Every call that waits on
hardware has a timeout and raises ``BackendError`` with a reason a person can
act on; ``abort()`` may be called from another thread and makes a running
``expose()`` or ``run_job()`` raise ``ExposureAborted``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable


class BackendError(Exception):
    """A device did not do what was asked (timeout, disconnect, refusal)."""


class ExposureAborted(BackendError):
    """The exposure was stopped on purpose (abort, unsafe sky)."""


@dataclass(frozen=True)
class CapturedFrame:
    data: bytes  # a complete FITS file
    filename: str
    captured_at: datetime


class Backend(ABC):
    name: str = "backend"

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def abort(self) -> None:
        """Stop what is running now (thread-safe)."""

    @abstractmethod
    def park(self) -> None: ...

    @abstractmethod
    def is_parked(self) -> bool: ...

    def close(self) -> None:
        pass


class ImagingBackend(Backend):
    @abstractmethod
    def slew(self, ra_deg: float, dec_deg: float, target: str) -> None:
        """Unpark if needed, slew to J2000 coordinates and track."""

    @abstractmethod
    def set_filter(self, filter_name: str | None) -> None: ...

    @abstractmethod
    def expose(self, exposure_s: float, *, frame_type: str, object_name: str | None, filter_name: str | None,
               binning: int = 1, gain: float | None = None, offset: float | None = None) -> CapturedFrame: ...


@dataclass
class JobContext:
    """What a ``ScheduleBackend`` gets for one run of a job.

    ``rows_done``: frames already in the spool per row key (``"<target>.<row>"``);
    ``picked``: capture files already in the spool (so a restart does not take them twice);
    ``deliver(frame, row_key, source)``: put one frame into the spool (row_key None: not in the job);
    ``progress(state, target, filter_name)``: a JobProgress state such as "slewing" or "exposing".
    """

    job: object  # common.contracts.ScheduleJob
    rows_done: dict[str, int]
    picked: set[str] = field(default_factory=set)
    deliver: Callable[[CapturedFrame, str | None, str | None], None] = lambda frame, key, source: None
    progress: Callable[[str, str | None, str | None], None] = lambda state, target, filter_name: None


class ScheduleBackend(Backend):
    @abstractmethod
    def run_job(self, context: JobContext) -> None:
        """Run what is left of the job; return when it is complete, raise ``BackendError`` otherwise."""
