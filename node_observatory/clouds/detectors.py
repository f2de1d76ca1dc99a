"""The two detectors behind one call, ``classify_file(path) -> CloudResult``, for the commands."""
from __future__ import annotations

from pathlib import Path

from .classical import DEFAULT_REFERENCE_DENSITY, MIN_ALTITUDE, CloudResult, classify
from .imageio import load_image
from .skymodel import SkyModel, estimate_sky_circle

__all__ = ["ClassicalDetector", "make_detector"]


class ClassicalDetector:
    """The classical detector with a fixed sky model, or one estimated from each frame."""

    name = "classical"

    def __init__(self, model: SkyModel | None = None, *, mask=None, orientation: float = 0.0,
                 exposure_s: float | None = None, min_altitude: float = MIN_ALTITUDE,
                 reference_density: float = DEFAULT_REFERENCE_DENSITY):
        self.model, self.mask, self.orientation = model, mask, orientation
        self.options = {"exposure_s": exposure_s, "min_altitude": min_altitude,
                        "reference_density": reference_density}

    def classify_file(self, path: str | Path) -> CloudResult:
        """Raises ImageReadError for an unreadable file, ValueError for a mask of another size."""
        image = load_image(path)
        model = self.model
        if model is None:
            circle = estimate_sky_circle([image])
            model = SkyModel(circle.cx, circle.cy, circle.radius, self.orientation,
                             self.mask if self.mask is not None else circle.mask)
        return classify(image, model, **self.options)


def make_detector(kind: str, model_path: str | None, **classical):
    """``classical`` (with its options) or ``ml`` (with a model path; loads the model now)."""
    if kind == "ml":
        if not model_path:
            raise ValueError("the ml detector needs --model PATH (a .tflite/.keras/.h5 file or its folder)")
        from .mlmodel import MlDetector, load_model

        return MlDetector(load_model(model_path))
    return ClassicalDetector(**classical)
