"""Generated light frames of one field with a star of known, changing flux (holds no tests)."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from astropy.io import fits

from master.science.photometry import Star
from tests.unit.test_science_photometry import add_star, camera

RA0, DEC0 = 150.0, 55.0
SITE = (48.0, 2.0, 100.0)
EXPTIME = 30.0


def field_stars(cam):
    """(target, comparisons) of the field: the third brightest star varies, the next ones do not."""
    stars = cam.stars_on_frame(RA0, DEC0, EXPTIME, "L")
    order = np.argsort(stars["mag"])
    pick = lambda k, name: Star(name, float(stars["ra"][order[k]]), float(stars["dec"][order[k]]),  # noqa: E731
                                float(stars["mag"][order[k]]))
    return pick(2, "VAR"), [pick(1, "C1"), pick(3, "C2"), pick(4, "C3")]


def write_frames(folder, factors, *, start=datetime(2024, 3, 1, 21, 0), cadence_min=5.0, object_name="VAR FIELD",
                 cam=None, seed=7):
    """One FITS file per factor: the target's flux times ``factor`` (light is added or taken away).

    Returns (paths, target, comparisons, mid-exposure datetimes)."""
    cam = cam or camera()
    target, comps = field_stars(cam)
    rng = np.random.default_rng(seed)
    paths, times = [], []
    for i, factor in enumerate(factors):
        when = start + timedelta(minutes=cadence_min * i)
        hdul = cam.capture(RA0, DEC0, EXPTIME, "L", "light", when, site=SITE, rng_seed=100 + i,
                           object_name=object_name)
        header = hdul[0].header
        data = hdul[0].data.astype(np.float64) - cam.bias_level_adu  # a "calibrated" frame
        on = cam.stars_on_frame(RA0, DEC0, EXPTIME, "L", airmass=header["AIRMASS"])
        k = int(np.argmin(np.hypot(on["ra"] - target.ra, on["dec"] - target.dec)))
        if factor >= 1:
            add_star(data, on["x"][k], on["y"][k], (factor - 1.0) * on["electrons"][k], cam, rng)
        else:
            _dim(data, on["x"][k], on["y"][k], (1.0 - factor) * on["electrons"][k], cam)
        path = folder / f"light_{i:03d}.fits"
        fits.PrimaryHDU(data=data.astype(np.float32), header=header).writeto(path)
        paths.append(path)
        times.append(when + timedelta(seconds=EXPTIME / 2))
    return paths, target, comps, times


def _dim(data, x, y, electrons, cam):
    """Remove ``electrons`` of the star's light (noiselessly: the frame's noise is already in)."""
    sigma = cam.fwhm_px / (2 * np.sqrt(2 * np.log(2)))
    yy, xx = np.mgrid[: data.shape[0], : data.shape[1]]
    profile = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    data -= electrons * profile / profile.sum() / cam.gain_e_per_adu
