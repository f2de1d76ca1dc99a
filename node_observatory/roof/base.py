"""The roof interface: a device that opens, closes and aborts, and says where it is."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class RoofPosition(str, Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def moving(self) -> bool:
        return self in (RoofPosition.OPENING, RoofPosition.CLOSING)


class RoofError(Exception):
    """The roof refused a command or cannot be read."""


@dataclass(frozen=True)
class RoofStatus:
    state: RoofPosition
    since: datetime | None  # when the device entered this state, as far as we saw it
    time: datetime  # when this status was read
    message: str = ""


class Roof(ABC):
    """A roll-off roof or a dome shutter. Commands start a motion and return at once;
    ``status()`` says how it goes. Every implementation reads its state from the device."""

    name: str = "roof"

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...

    @abstractmethod
    def status(self) -> RoofStatus: ...

    def close_connection(self) -> None:
        pass
