"""Frames from the simulated camera for the processing tests (no tests here; imported by them).

One small sensor (200 x 160) with many hot pixels and strong vignetting, pointed at a rich Milky
Way field so that every light has a few dozen stars to register on.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

from node_telescope.simulator import SimulatedCamera

FIELD = (290.0, 15.0)
WHEN = datetime(2024, 9, 1, 21, 0)


def camera(**overrides) -> SimulatedCamera:
    options = dict(width=200, height=160, focal_length_mm=400.0, hot_pixel_fraction=2e-3, vignetting=0.3)
    options.update(overrides)
    return SimulatedCamera(**options)


def write(cam: SimulatedCamera, path: Path, seed: int, frame_type: str, exposure_s: float, *,
          filter_name: str = "L", offset_px: tuple[float, float] = (0.0, 0.0), temp: float = -10.0,
          minutes: int = 0) -> Path:
    """One frame to ``path``; ``offset_px`` moves the pointing by (dx, dy) pixels."""
    scale = cam.plate_scale_arcsec / 3600.0
    # x grows to the west (RA decreases) at PA 0, y downward (south)
    ra = FIELD[0] - offset_px[0] * scale / math.cos(math.radians(FIELD[1]))
    dec = FIELD[1] - offset_px[1] * scale
    hdul = cam.capture(ra, dec, exposure_s, filter_name, frame_type, WHEN + timedelta(minutes=minutes),
                       object_name="Field" if frame_type == "light" else None, ccd_temp_c=temp, rng_seed=seed)
    hdul.writeto(path, overwrite=True)
    return path


def calibration_set(cam: SimulatedCamera, directory: Path, *, n: int = 7, dark_exposure: float = 60.0,
                    flat_exposure: float = 2.0, temp: float = -10.0, seed: int = 100) -> dict[str, list[Path]]:
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {"bias": [], "dark": [], "flat": []}
    for i in range(n):
        out["bias"].append(write(cam, directory / f"bias_{i:02d}.fits", seed + i, "bias", 0.0, temp=temp))
        out["dark"].append(write(cam, directory / f"dark_{dark_exposure:g}s_{i:02d}.fits", seed + 100 + i, "dark",
                                 dark_exposure, temp=temp))
        out["flat"].append(write(cam, directory / f"flat_L_{i:02d}.fits", seed + 200 + i, "flat", flat_exposure,
                                 temp=temp))
    return out
