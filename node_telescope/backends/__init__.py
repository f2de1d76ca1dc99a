"""Imaging backends: one interface, one implementation per way of driving hardware."""
from .base import Backend, BackendError, CapturedFrame, ExposureAborted, ImagingBackend, JobContext, ScheduleBackend

__all__ = ["Backend", "BackendError", "CapturedFrame", "ExposureAborted", "ImagingBackend", "JobContext",
           "ScheduleBackend", "make_backend"]


def make_backend(config, work_dir=None) -> Backend:
    if config.backend == "simulator":
        from .simulator import SimulatorBackend

        return SimulatorBackend(config)
    if config.backend == "indi":
        from .indi import IndiBackend

        return IndiBackend(config)
    if config.backend == "ekos":
        from .ekos import EkosBackend

        return EkosBackend(config, work_dir)
    raise BackendError(f"backend {config.backend!r} is not available")
