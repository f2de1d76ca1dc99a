"""What an optical train sees: image scale and field of view from focal length and sensor."""
from __future__ import annotations

ARCSEC_PER_RADIAN = 206_264.806


def image_scale_arcsec(pixel_size_um: float | None, focal_length_mm: float | None) -> float | None:
    if not pixel_size_um or not focal_length_mm:
        return None
    return ARCSEC_PER_RADIAN * pixel_size_um / 1000.0 / focal_length_mm


def field_of_view_arcmin(camera, telescope) -> tuple[float, float] | None:
    """(width, height) in arcminutes, or None while a value is missing."""
    if camera is None or telescope is None or not camera.width_px or not camera.height_px:
        return None
    scale = image_scale_arcsec(camera.pixel_size_um, telescope.focal_length_mm)
    if scale is None:
        return None
    return camera.width_px * scale / 60.0, camera.height_px * scale / 60.0
