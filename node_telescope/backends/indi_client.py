"""The telescope node's INDI client: the shared one in ``common.indi``, raising ``BackendError``."""
from __future__ import annotations

from common.indi import ALERT, BUSY, IDLE, OK, Blob, PropertySnapshot
from common.indi import IndiClient as _SharedClient

from .base import BackendError

__all__ = ["ALERT", "BUSY", "IDLE", "OK", "Blob", "IndiClient", "PropertySnapshot"]


class IndiClient(_SharedClient):
    """Every wait and send failure is a ``BackendError``, as the rest of the backend expects."""

    error = BackendError
