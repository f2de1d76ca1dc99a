"""Imaging backends: one interface, one implementation per way of driving hardware."""
from .base import BackendError, CapturedFrame, ExposureAborted, ImagingBackend

__all__ = ["BackendError", "CapturedFrame", "ExposureAborted", "ImagingBackend", "make_backend"]


def make_backend(config) -> ImagingBackend:
    if config.backend == "simulator":
        from .simulator import SimulatorBackend

        return SimulatorBackend(config)
    if config.backend == "indi":
        from .indi import IndiBackend

        return IndiBackend(config)
    raise BackendError(f"backend {config.backend!r} is not available")
