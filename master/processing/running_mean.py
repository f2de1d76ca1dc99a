"""A live stack's state: a per-pixel running mean on the first frame's grid, and its coverage.

Only the mean, the coverage count and the reference stars are kept, so memory and storage stay the
same however many frames are added. No rejection here (a live view); the final product is the
sigma-clipped ``stack.stack_files`` over the same frames. A colour stack is an (R, G, B) cube
(debayered frames): registered on the mean of its planes, one coverage map for all three.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from astropy.io import fits

from .stack import detect_stars, find_transform, warp_to


class RunningMean:
    def __init__(self, mean: np.ndarray, coverage: np.ndarray, reference_stars: np.ndarray, n_frames: int,
                 header: fits.Header | None = None):
        self.header = header if header is not None else fits.Header()  # the reference frame's, kept
        self.mean = mean                    # float32 (H, W) or (3, H, W), NaN where no frame covered
        self.coverage = coverage            # uint16 (H, W): frames that contributed per pixel
        self.reference_stars = reference_stars
        self.n_frames = n_frames

    @classmethod
    def first(cls, data: np.ndarray, header: fits.Header | None = None) -> "RunningMean":
        """A stack of one frame, whose stars every later frame is registered to."""
        mean = np.asarray(data, dtype=np.float32).copy()
        stars = detect_stars(_luminance(mean))
        return cls(mean, _valid(mean).astype(np.uint16), stars, 1, header)

    def add(self, data: np.ndarray) -> tuple[float, float]:
        """Register ``data`` on the reference stars and fold it in; returns its (dx, dy).

        Raises ``stack.RegistrationError`` when its stars do not match; the state is then unchanged.
        """
        data = np.asarray(data, dtype=np.float32)
        if data.shape != self.mean.shape[-data.ndim:] or data.ndim != self.mean.ndim:
            raise ValueError(f"a frame of shape {data.shape} does not fit a stack of {self.mean.shape}")
        transform = find_transform(detect_stars(_luminance(data)), self.reference_stars)
        grid = self.coverage.shape
        aligned = (np.stack([warp_to(p, transform, grid) for p in data]) if data.ndim == 3
                   else warp_to(data, transform, grid))
        valid = _valid(aligned)
        self.coverage[valid] += 1
        first_here = valid & (self.coverage == 1)
        count = self.coverage[valid].astype(np.float32)
        pairs = [(self.mean, aligned)] if data.ndim == 2 else list(zip(self.mean, aligned))
        for mean, new in pairs:        # plane by plane, in place
            mean[first_here] = 0.0
            mean[valid] += (new[valid] - mean[valid]) / count
        self.n_frames += 1
        dx, dy = transform.translation
        return float(dx), float(dy)

    def to_bytes(self) -> bytes:
        """FITS: the mean as the primary image, ``COVERAGE`` and ``REFSTARS`` as extensions."""
        primary = fits.PrimaryHDU(data=self.mean, header=self.header.copy())
        primary.header["NCOMBINE"] = (self.n_frames, "frames in the live stack")
        primary.header["COMBMETH"] = ("running mean", "live stack: no rejection")
        stars = fits.BinTableHDU.from_columns([
            fits.Column(name="x", format="D", array=self.reference_stars[:, 0]),
            fits.Column(name="y", format="D", array=self.reference_stars[:, 1])], name="REFSTARS")
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # long header cards copied from the light
            fits.HDUList([primary, fits.ImageHDU(self.coverage, name="COVERAGE"), stars]).writeto(
                buffer, output_verify="silentfix")
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "RunningMean":
        with fits.open(io.BytesIO(data)) as hdul:
            mean = np.array(hdul[0].data, dtype=np.float32)
            coverage = np.array(hdul["COVERAGE"].data, dtype=np.uint16)
            table = hdul["REFSTARS"].data
            stars = np.column_stack([np.asarray(table["x"], float), np.asarray(table["y"], float)])
            header = hdul[0].header.copy()
            return cls(mean, coverage, stars, int(header["NCOMBINE"]), header)


def _luminance(data: np.ndarray) -> np.ndarray:
    return data if data.ndim == 2 else np.mean(data, axis=0, dtype=np.float32)


def _valid(data: np.ndarray) -> np.ndarray:
    return np.isfinite(data) if data.ndim == 2 else np.isfinite(data).all(axis=0)
