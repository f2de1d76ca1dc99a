"""Simulated devices for the telescope node: the whole capture -> ingest path without hardware."""

from .camera import SimulatedCamera, to_bytes
from .sky import stars_in_field

__all__ = ["SimulatedCamera", "stars_in_field", "to_bytes"]
