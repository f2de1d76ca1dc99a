"""What the observatory says about the sky right now, as the planner uses it when it re-plans.

- ``start``: nothing is planned before this instant (re-planning at 01:30 plans from 01:30).
- ``clouds``: the newest all-sky cloud map (per alt/az region, from the observatory node's
  ``CloudMap``). A target whose position falls in a region at least ``cloud_limit`` clouded is
  kept out of that region for ``cloud_valid_min`` after the map was taken: clouds move, and the
  next map (or the next re-plan) says more. Regions the map could not judge (``None``, e.g. the
  Moon's glare) and the sky below the map's lowest region do not block anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

CLOUD_LIMIT = 0.5
CLOUD_VALID_MIN = 30.0


@dataclass(frozen=True)
class CloudRegion:
    alt_min: float
    alt_max: float
    az_min: float
    az_max: float
    cloud_fraction: float | None

    def contains(self, alt: np.ndarray, az: np.ndarray) -> np.ndarray:
        az = np.mod(az, 360.0)
        in_az = (az >= self.az_min) & (az < self.az_max) if self.az_max > self.az_min else \
            (az >= self.az_min) | (az < self.az_max)
        return (alt >= self.alt_min) & (alt < self.alt_max + (1e-6 if self.alt_max >= 90 else 0)) & in_az


@dataclass(frozen=True)
class CloudCover:
    taken_at: datetime
    regions: tuple[CloudRegion, ...]
    source: str = ""

    @classmethod
    def from_map(cls, taken_at: datetime, regions: list[dict], source: str = "") -> "CloudCover":
        parsed = []
        for region in regions:
            try:
                parsed.append(CloudRegion(float(region["alt_min"]), float(region["alt_max"]), float(region["az_min"]),
                                          float(region["az_max"]), None if region.get("cloud_fraction") is None
                                          else float(region["cloud_fraction"])))
            except (KeyError, TypeError, ValueError):
                continue  # a region we cannot read blocks nothing
        return cls(taken_at, tuple(parsed), source)

    def clouded(self, alt: np.ndarray, az: np.ndarray, limit: float) -> np.ndarray:
        """True where (alt, az) lies in a region at least ``limit`` clouded."""
        out = np.zeros(np.shape(alt), dtype=bool)
        for region in self.regions:
            if region.cloud_fraction is not None and region.cloud_fraction >= limit:
                out |= region.contains(alt, az)
        return out


@dataclass(frozen=True)
class SkyConditions:
    start: datetime | None = None
    clouds: CloudCover | None = None
    cloud_limit: float = CLOUD_LIMIT
    cloud_valid_min: float = CLOUD_VALID_MIN
    notes: tuple[str, ...] = field(default=())

    @property
    def needs_azimuth(self) -> bool:
        return self.clouds is not None

    def allowed(self, times: list[datetime], alt: np.ndarray, az: np.ndarray | None) -> np.ndarray:
        """Per target (rows) and fine sample (columns): False where these conditions forbid imaging."""
        stamps = np.array([t.timestamp() for t in times])[None, :]
        ok = np.ones(np.shape(alt), dtype=bool)
        if self.start is not None:
            ok &= stamps >= self.start.timestamp()
        if self.clouds is not None and az is not None:
            valid_until = self.clouds.taken_at + timedelta(minutes=self.cloud_valid_min)
            during = (stamps >= self.clouds.taken_at.timestamp() - 60) & (stamps <= valid_until.timestamp())
            ok &= ~(during & self.clouds.clouded(alt, az, self.cloud_limit))
        return ok
