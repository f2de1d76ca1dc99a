"""Automatic comparison stars: the brightest clean stars of a reference frame, around the target."""
from __future__ import annotations

import numpy as np

from .photometry import Star

__all__ = ["auto_comparisons"]


def auto_comparisons(data: np.ndarray, header, target: Star, *, fwhm: float = 3.0, count: int = 8,
                     saturation: float | None = None) -> list[Star]:
    """Up to ``count`` bright, isolated, unsaturated stars away from the edges and from the target.

    Positions are given in RA/Dec when the frame has a celestial WCS (so that frames that drift
    still find them), else in pixels.
    """
    from astropy.stats import sigma_clipped_stats
    from astropy.wcs import WCS
    from photutils.detection import DAOStarFinder

    data = np.asarray(data, dtype=np.float64)
    _, median, std = sigma_clipped_stats(data, sigma=3.0, maxiters=3)
    found = DAOStarFinder(fwhm=fwhm, threshold=10.0 * std)(data - median)
    if found is None or not len(found):
        return []
    h, w = data.shape
    wcs = WCS(header, naxis=2)
    celestial = wcs.has_celestial
    if target.x is not None and target.y is not None:
        tx, ty = target.x, target.y
    elif celestial and target.ra is not None:
        tx, ty = wcs.all_world2pix([[target.ra, target.dec]], 0)[0]
    else:
        tx = ty = None
    x, y = np.asarray(found["x_centroid"]), np.asarray(found["y_centroid"])
    peak, flux = np.asarray(found["peak"]) + median, np.asarray(found["flux"])
    margin = 8 * fwhm  # room for the background annulus
    ok = (x > margin) & (x < w - 1 - margin) & (y > margin) & (y < h - 1 - margin)
    if saturation is not None:
        ok &= peak < 0.8 * saturation  # the linear range, not just below the ceiling
    if tx is not None:
        ok &= np.hypot(x - tx, y - ty) > 6 * fwhm
    # isolated: no other detection within the annulus' outer radius
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(dist, np.inf)
    ok &= dist.min(axis=1) > 5 * fwhm
    chosen = [i for i in np.argsort(-flux) if ok[i]][:count]
    stars = []
    for n, i in enumerate(chosen, 1):
        if celestial:
            ra, dec = wcs.all_pix2world([[x[i], y[i]]], 0)[0]
            stars.append(Star(f"C{n}", float(ra), float(dec)))
        else:
            stars.append(Star(f"C{n}", x=float(x[i]), y=float(y[i])))
    return stars
