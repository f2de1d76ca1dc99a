"""The FITS viewer's pure logic: pyramids of levels cut into tiles, display stretches, sky positions."""
from .cache import ObjectMissing, ObjectUnreadable, StoreUnavailable, ViewerCache, ViewerError
from .pyramid import TILE, Pyramid

__all__ = ["ObjectMissing", "ObjectUnreadable", "Pyramid", "StoreUnavailable", "TILE", "ViewerCache", "ViewerError"]
