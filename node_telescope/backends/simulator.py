"""The simulator backend: a mount, filter wheel and camera without hardware.

Exposures take ``exposure_s / time_scale`` wall-clock seconds and can be
aborted; the simulated clock advances by the full exposure, so a night runs
in minutes while the frames carry night-time timestamps.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from .base import BackendError, CapturedFrame, ExposureAborted, ImagingBackend


class SimulatorBackend(ImagingBackend):
    name = "simulator"

    def __init__(self, config, clock_start: datetime | None = None):
        from ..simulator.camera import SimulatedCamera

        self.time_scale = config.simulator.time_scale
        self.camera = SimulatedCamera(width=config.simulator.width, height=config.simulator.height)
        self.clock = clock_start or datetime.now(timezone.utc)
        self.pointing: tuple[float, float] | None = None
        self.parked = True
        self.filter_name: str | None = None
        self._abort = threading.Event()
        self._seed = 0
        self.connected = False

    def _wait(self, simulated_s: float) -> None:
        self._abort.clear()
        if self._abort.wait(simulated_s / self.time_scale):
            raise ExposureAborted("aborted")
        self.clock += timedelta(seconds=simulated_s)

    def connect(self) -> None:
        self.connected = True

    def slew(self, ra_deg, dec_deg, target):
        if not self.connected:
            raise BackendError("simulator not connected")
        self.parked = False
        self._wait(10.0)
        self.pointing = (ra_deg, dec_deg)

    def set_filter(self, filter_name):
        self.filter_name = filter_name

    def expose(self, exposure_s, *, frame_type, object_name, filter_name, binning=1, gain=None, offset=None):
        from ..simulator.camera import to_bytes

        if frame_type == "light" and (self.pointing is None or self.parked):
            raise BackendError("cannot take a light frame: the mount is parked or has not slewed")
        start = self.clock
        self._wait(exposure_s)
        ra, dec = self.pointing if self.pointing else (None, None)
        self._seed += 1
        hdul = self.camera.capture(ra, dec, exposure_s, filter_name or "L", frame_type, start,
                                   object_name=object_name, rng_seed=self._seed)
        stamp = start.strftime("%Y-%m-%dT%H-%M-%S")
        name = (object_name or frame_type).replace(" ", "_")
        return CapturedFrame(to_bytes(hdul), f"{name}_{filter_name or 'none'}_{exposure_s:g}s_{stamp}.fits", start)

    def abort(self):
        self._abort.set()

    def park(self):
        self.parked = True
        self.pointing = None

    def is_parked(self):
        return self.parked
