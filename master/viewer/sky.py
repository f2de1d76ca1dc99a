"""Sky coordinates of pixels, from the header's WCS when it has a celestial one."""
from __future__ import annotations

import warnings

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

__all__ = ["celestial_wcs", "radec"]


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The header's celestial WCS, or None when it has none or it cannot be used."""
    try:
        with warnings.catch_warnings():
            # Capture programs write odd WCS cards (SIP without -SIP, old EPOCH); astropy warns, then copes.
            warnings.simplefilter("ignore", AstropyWarning)
            wcs = WCS(header, naxis=2)
    except Exception:  # astropy raises a dozen kinds for broken WCS cards; any of them means "no WCS"
        return None
    if not wcs.has_celestial:
        return None
    return wcs.celestial


def radec(wcs: WCS, x: float, y: float) -> tuple[float, float]:
    """RA and Dec (degrees) at 0-based pixel ``x``, ``y`` (pixel centres are whole numbers)."""
    ra, dec = wcs.all_pix2world([[x, y]], 0)[0]
    return float(ra) % 360.0, float(dec)
