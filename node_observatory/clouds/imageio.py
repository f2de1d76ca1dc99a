"""Read any all-sky frame from disk as a 2-D luminance image plus its saturation level.

JPEG/PNG (colour or mono, 8 or 16 bit) through Pillow; FITS through astropy: the first HDU that
holds a 2-D image or a colour cube (3 planes first or last). Colour becomes the mean of the planes.
A raw one-shot-colour FITS (a Bayer mosaic: ``BAYERPAT`` in its header, as INDI and most capture
programs write it) becomes luminance by the mean of each 2x2 neighbourhood, which holds each colour
of the pattern once whatever the pattern and its offsets: the mosaic's checkerboard would otherwise
read as noise and texture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ImageReadError", "SkyImage", "colour_planes", "load_colour", "load_image", "luminance"]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")


class ImageReadError(Exception):
    """A file that is not a readable all-sky image; the message names the file and the reason."""


@dataclass
class SkyImage:
    data: np.ndarray          # 2-D float32 luminance (H x W x 3 from load_colour), finite everywhere
    saturation: float         # the value a clipped pixel takes (255 for 8-bit, 65535 for 16-bit)
    integer: bool             # the source held integer pixel values


def luminance(array: np.ndarray) -> np.ndarray:
    """A 2-D float32 image from a 2-D image or a colour cube (planes first or last)."""
    array = np.asarray(array)
    if array.ndim == 3:
        if array.shape[-1] in (3, 4):
            array = array[..., :3].mean(axis=2, dtype=np.float32)
        elif array.shape[0] in (1, 3, 4):
            array = array[:3].mean(axis=0, dtype=np.float32)
        else:
            raise ValueError(f"a 3-D image must have 1, 3 or 4 colour planes, got shape {array.shape}")
    if array.ndim != 2:
        raise ValueError(f"need a 2-D image or a colour cube, got shape {array.shape}")
    image = np.array(array, dtype=np.float32)
    bad = ~np.isfinite(image)
    if bad.any():
        image[bad] = np.median(image[~bad]) if (~bad).any() else 0.0
    return image


def _saturation(array: np.ndarray, image: np.ndarray) -> tuple[float, bool]:
    kind = np.asarray(array).dtype
    if kind.kind in "ui":
        top = float(np.iinfo(kind).max)
        # 16-bit containers often hold 12- or 14-bit data: use the smallest 2^n - 1 above the peak.
        peak = float(image.max()) if image.size else 0.0
        for bits in (8, 10, 12, 14, 16):
            if peak <= 2 ** bits - 1 <= top:
                return float(2 ** bits - 1), True
        return top, True
    peak = float(image.max()) if image.size else 1.0
    return (1.0 if 0 < peak <= 1.0 else max(peak, 1e-6)), False


def load_image(path: str | Path) -> SkyImage:
    """Read ``path``; raise ImageReadError with the file name and the reason if it cannot be used."""
    raw, image = _read_checked(Path(path), luminance)
    saturation, integer = _saturation(raw, image)
    return SkyImage(image, saturation, integer)


def load_colour(path: str | Path) -> SkyImage:
    """Like ``load_image`` but ``data`` is H x W x 3 (a mono frame repeated in each plane).

    For models trained on colour frames (Teachable Machine); the detectors use luminance.
    """
    raw, image = _read_checked(Path(path), colour_planes)
    saturation, integer = _saturation(raw, image)
    return SkyImage(image, saturation, integer)


def colour_planes(array: np.ndarray) -> np.ndarray:
    """An H x W x 3 float32 image from a 2-D image or a colour cube (planes first or last)."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3]
    elif array.ndim == 3 and array.shape[0] in (3, 4):
        array = np.moveaxis(array[:3], 0, -1)
    else:
        raise ValueError(f"need a 2-D image or a colour cube, got shape {array.shape}")
    return np.stack([luminance(array[..., i]) for i in range(3)], axis=-1)


def _read_checked(path: Path, convert) -> tuple[np.ndarray, np.ndarray]:
    """The file's pixels as stored and as ``convert`` makes them, or ImageReadError."""
    try:
        if path.name.lower().endswith(FITS_SUFFIXES):
            raw = _read_fits(path)
        else:
            raw = _read_pillow(path)
        image = convert(raw)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except Exception as exc:  # Pillow, astropy and numpy each raise their own kinds
        raise ImageReadError(f"{path}: cannot read as an image ({type(exc).__name__}: {exc})") from None
    if image.shape[0] < 32 or image.shape[1] < 32:
        raise ImageReadError(f"{path}: image too small ({image.shape[1]}x{image.shape[0]} pixels)")
    return raw, image


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                im = im.convert("RGB")
            if im.mode == "I;16" or im.mode.startswith("I;16"):
                return np.asarray(im, dtype=np.uint16)
            if im.mode == "I":
                arr = np.asarray(im)
                return arr.astype(np.uint16) if arr.max() < 65536 and arr.min() >= 0 else arr
            if im.mode == "F":
                return np.asarray(im, dtype=np.float32)
            return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image Pillow or astropy can read") from None


def _read_fits(path: Path) -> np.ndarray:
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdus:
        for hdu in hdus:
            data = getattr(hdu, "data", None)
            if data is None or not hasattr(data, "ndim"):
                continue
            data = np.asarray(data)
            if data.ndim == 3 and data.shape[0] == 1:
                data = data[0]
            if data.ndim == 2 and str(hdu.header.get("BAYERPAT", "")).strip():
                return bayer_luminance(_native_fits(data))
            if data.ndim == 2 or (data.ndim == 3 and (data.shape[0] in (3, 4) or data.shape[-1] in (3, 4))):
                return _native_fits(data)
    raise ImageReadError(f"{path}: no 2-D image or colour cube in any FITS HDU")


def bayer_luminance(mosaic: np.ndarray) -> np.ndarray:
    """The mean of every 2x2 neighbourhood of a Bayer mosaic, same size and integer type (the last
    row and column repeat their neighbour's)."""
    wide = mosaic.astype(np.float32)
    mean = np.empty_like(wide)
    mean[:-1, :-1] = 0.25 * (wide[:-1, :-1] + wide[1:, :-1] + wide[:-1, 1:] + wide[1:, 1:])
    mean[-1, :-1] = mean[-2, :-1]
    mean[:, -1] = mean[:, -2]
    if mosaic.dtype.kind in "ui":
        return np.round(mean).astype(mosaic.dtype)
    return mean


def _native_fits(data: np.ndarray) -> np.ndarray:
    """FITS stores unsigned 16-bit as int16 + BZERO; astropy gives float or uint, keep the type."""
    if data.dtype.kind == "f" and np.all(np.isfinite(data)) and data.size:
        lo, hi = float(data.min()), float(data.max())
        if lo >= 0 and hi <= 65535 and hi > 1.0 and np.all(data == np.round(data)):
            return data.astype(np.uint16 if hi > 255 else np.uint8)
    return data.astype(data.dtype.newbyteorder("="))
