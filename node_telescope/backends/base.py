"""The interface every imaging backend implements (simulator, INDI, EKOS).

Every call that waits on hardware has a timeout and raises ``BackendError``
with a reason a person can act on; ``abort()`` may be called from another
thread and makes a running ``expose()`` raise ``ExposureAborted``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


class BackendError(Exception):
    """A device did not do what was asked (timeout, disconnect, refusal)."""


class ExposureAborted(BackendError):
    """The exposure was stopped on purpose (abort, unsafe sky)."""


@dataclass(frozen=True)
class CapturedFrame:
    data: bytes  # a complete FITS file
    filename: str
    captured_at: datetime


class ImagingBackend(ABC):
    name: str = "backend"

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def slew(self, ra_deg: float, dec_deg: float, target: str) -> None:
        """Unpark if needed, slew to J2000 coordinates and track."""

    @abstractmethod
    def set_filter(self, filter_name: str | None) -> None: ...

    @abstractmethod
    def expose(self, exposure_s: float, *, frame_type: str, object_name: str | None, filter_name: str | None,
               binning: int = 1, gain: float | None = None, offset: float | None = None) -> CapturedFrame: ...

    @abstractmethod
    def abort(self) -> None:
        """Stop the running exposure, if any (thread-safe)."""

    @abstractmethod
    def park(self) -> None: ...

    @abstractmethod
    def is_parked(self) -> bool: ...

    def close(self) -> None:
        pass
