"""Cloud detection from all-sky camera frames, without training (classical image analysis)."""
from .classical import CloudResult, classify
from .imageio import ImageReadError, SkyImage, load_image
from .skymodel import SkyCircle, SkyModel, estimate_sky_circle

__all__ = ["CloudResult", "classify", "ImageReadError", "SkyImage", "load_image", "SkyCircle",
           "SkyModel", "estimate_sky_circle"]
