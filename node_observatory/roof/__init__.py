"""Roof (or dome shutter) control with a mount-park interlock; see :mod:`.controller`."""
from .base import Roof, RoofError, RoofPosition, RoofStatus
from .park import ParkReading, ParkSource

__all__ = ["ParkReading", "ParkSource", "Roof", "RoofError", "RoofPosition", "RoofStatus"]
