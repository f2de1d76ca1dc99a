"""A live stack's state: a per-pixel running mean on the first frame's grid, and its coverage.

Only the mean, the coverage count and the reference stars are kept, so memory and storage stay the
same however many frames are added. No rejection here (a live view); the final product is the
sigma-clipped ``stack.stack_files`` over the same frames.
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
        self.mean = mean                    # float32 (H, W), NaN where no frame covered
        self.coverage = coverage            # uint16 (H, W): frames that contributed per pixel
        self.reference_stars = reference_stars
        self.n_frames = n_frames

    @classmethod
    def first(cls, data: np.ndarray, header: fits.Header | None = None) -> "RunningMean":
        """A stack of one frame, whose stars every later frame is registered to."""
        stars = detect_stars(data)
        mean = np.asarray(data, dtype=np.float32).copy()
        return cls(mean, np.isfinite(mean).astype(np.uint16), stars, 1, header)

    def add(self, data: np.ndarray) -> tuple[float, float]:
        """Register ``data`` on the reference stars and fold it in; returns its (dx, dy).

        Raises ``stack.RegistrationError`` when its stars do not match; the state is then unchanged.
        """
        transform = find_transform(detect_stars(data), self.reference_stars)
        aligned = warp_to(data, transform, self.mean.shape)
        valid = np.isfinite(aligned)
        self.coverage[valid] += 1
        first_here = valid & (self.coverage == 1)
        self.mean[first_here] = 0.0
        count = self.coverage[valid].astype(np.float32)
        self.mean[valid] += (aligned[valid] - self.mean[valid]) / count
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
