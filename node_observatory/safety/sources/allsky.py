"""Cloud cover from an all-sky camera: the classical detector (:mod:`node_observatory.clouds`) run on
the newest image in a folder, or on one file that the camera software overwrites.

The reading's time is the image's modification time, so a camera that stops writing makes the
source stale (unknown) through the monitor's ``max_age_s``. Values: ``cloud_fraction`` (0..1, for the
thresholds), ``stars_detected`` and ``label``. A frame the detector cannot judge (daylight, blank,
saturated, hidden by the Moon) is unknown with the detector's reason. An image is classified once;
later reads reuse the result until a newer image appears.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from ..reading import Reading, Verdict
from .base import SafetySource, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".fits", ".fit", ".fts")
#: an unreadable image younger than this may still be being written: keep the previous result
SETTLE_S = 10.0


def newest_image(path: Path) -> Path:
    """``path`` itself if it is a file; the most recently modified image in it if it is a folder."""
    if path.is_file():
        return path
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    try:
        candidates = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    except OSError as exc:
        raise SourceError(f"cannot list {path}: {exc.strerror or exc}") from None
    if not candidates:
        raise SourceError(f"no image ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    return max(candidates, key=_mtime)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # deleted between listing and looking: never the newest
        return float("-inf")


class AllSkySource(SafetySource):
    def __init__(self, name: str, path, sky_model: str | Path | None = None, *,
                 min_altitude: float | None = None, reference_density: float | None = None):
        """``path``: an image file, a folder, or an object whose ``newest()`` names the image
        (indi-allsky's database, see ``allsky_db``)."""
        super().__init__(name)
        self.path = path if hasattr(path, "newest") else Path(path)
        self.sky_model_path = Path(sky_model) if sky_model else None
        self.min_altitude = min_altitude
        self.reference_density = reference_density
        self._model = None
        self._model_stamp: float | None = None
        self._last_key: tuple | None = None
        self._last: Reading | None = None
        # The newest judged image's per-region map, and a counter that changes with it.
        self.cloud_map: tuple[datetime, object] | None = None
        self.map_serial = 0

    def _sky_model(self, image):
        from ...clouds import SkyModel, estimate_sky_circle

        if self.sky_model_path is None:  # no calibration: find the sky circle in this frame
            circle = estimate_sky_circle([image])
            return SkyModel(circle.cx, circle.cy, circle.radius, 0.0, circle.mask)
        stamp = _mtime(self.sky_model_path)
        if self._model is None or stamp != self._model_stamp:
            try:
                self._model = SkyModel.from_toml(self.sky_model_path)
            except Exception as exc:  # a missing file, bad TOML, a bad mask: all say why
                self._model = None
                raise SourceError(f"sky model {self.sky_model_path}: {exc}") from None
            self._model_stamp = stamp
        return self._model

    def measure(self, now: datetime) -> Reading:
        from ...clouds import ImageReadError, classify, load_image

        image_path = self.path.newest() if hasattr(self.path, "newest") else newest_image(self.path)
        try:
            stat = image_path.stat()
        except OSError as exc:
            raise SourceError(f"cannot stat {image_path}: {exc.strerror or exc}") from None
        key = (str(image_path), stat.st_mtime_ns, stat.st_size)
        if key == self._last_key and self._last is not None:
            return self._last
        taken = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
        try:
            image = load_image(image_path)
        except ImageReadError as exc:
            if self._last is not None and (now - taken).total_seconds() < SETTLE_S:
                return self._last  # probably half written; the previous result keeps its own (older) time
            raise SourceError(str(exc)) from None
        kwargs = {}
        if self.min_altitude is not None:
            kwargs["min_altitude"] = self.min_altitude
        if self.reference_density is not None:
            kwargs["reference_density"] = self.reference_density
        try:
            result = classify(image, self._sky_model(image), **kwargs)
        except ValueError as exc:  # e.g. a mask made for another camera
            raise SourceError(f"{image_path.name}: {exc}") from None
        if result.label == "unknown" or result.cloud_fraction is None:
            reading = Reading(self.name, taken, {}, Verdict.UNKNOWN,
                              (f"{image_path.name}: detector says unknown: {result.reason or 'no reason given'}",))
        else:
            reading = Reading(self.name, taken, {"cloud_fraction": result.cloud_fraction,
                                                 "stars_detected": result.stars_detected, "label": result.label})
        self._last_key, self._last = key, reading
        self.cloud_map, self.map_serial = (taken, result), self.map_serial + 1
        return reading
