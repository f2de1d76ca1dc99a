"""Read, normalise and describe FITS frames at ingest (pure logic, no database, no store)."""
from .normalize import FrameMeta, normalize_header
from .reader import FitsReadError, read_fits

__all__ = ["FitsReadError", "FrameMeta", "normalize_header", "read_fits"]
