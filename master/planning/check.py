"""Does a night plan break any constraint? Checked with astropy's own AltAz and ephemerides, not
the planner's geometry, at every ``step_s`` of every block and at its very end."""
from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np

from .sky import TWILIGHT_SUN_ALT, Site, airmass, offline_astropy


def instants(start: datetime, end: datetime, step_s: float) -> list[datetime]:
    count = int((end - start).total_seconds() // step_s)
    points = [start + timedelta(seconds=i * step_s) for i in range(count + 1)]
    return points if points[-1] == end else points + [end]


def violations(site: Site, blocks, requests, step_s: float = 30.0) -> list[str]:
    """One line per block and constraint broken, naming the first instant it is broken.

    ``blocks`` need ``name``, ``start`` and ``end``; ``requests`` are ``PlanRequest``s by those names.
    Overlapping blocks are violations too.
    """
    offline_astropy()
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body
    from astropy.time import Time

    found = []
    ordered = sorted(blocks, key=lambda b: b.start)
    for before, after in zip(ordered, ordered[1:]):
        if after.start < before.end:
            found.append(f"{after.name} starts {after.start:%H:%M} before {before.name} ends {before.end:%H:%M}")
    if not blocks:
        return found
    by_name = {r.name: r for r in requests}
    spans = [instants(b.start, b.end, step_s) for b in blocks]
    times = Time([t for span in spans for t in span])
    owner = np.repeat(np.arange(len(blocks)), [len(span) for span in spans])
    ra = np.array([by_name[b.name].ra_deg for b in blocks])[owner]
    dec = np.array([by_name[b.name].dec_deg for b in blocks])[owner]
    location = EarthLocation(lat=site.latitude_deg * u.deg, lon=site.longitude_deg * u.deg,
                             height=site.elevation_m * u.m)
    frame = AltAz(obstime=times, location=location)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = SkyCoord(ra * u.deg, dec * u.deg)
        altaz = target.transform_to(frame)
        sun = get_body("sun", times, location)
        moon = get_body("moon", times, location)
        sun_alt = sun.transform_to(frame).alt.deg
        moon_alt = moon.transform_to(frame).alt.deg
        separation = moon.separation(target).deg
    illumination = (1 - np.cos(np.deg2rad(sun.separation(moon).deg))) / 2
    alt, az = altaz.alt.deg, altaz.az.deg
    flat_times = [t for span in spans for t in span]
    for index, block in enumerate(blocks):
        c = by_name[block.name].constraints
        at = owner == index
        moon_up = moon_alt[at] > 0
        broken = {
            "twilight": sun_alt[at] >= TWILIGHT_SUN_ALT[c.twilight],
            "min altitude": alt[at] < c.min_altitude_deg,
            "horizon": (alt[at] <= site.horizon_alt(az[at])) if c.use_horizon else np.zeros(at.sum(), bool),
            "max airmass": (airmass(alt[at]) > c.max_airmass) if c.max_airmass else np.zeros(at.sum(), bool),
            "moon separation": moon_up & (separation[at] < c.min_moon_separation_deg),
            "moon illumination": (moon_up & (illumination[at] > c.max_moon_illumination)
                                  if c.max_moon_illumination is not None else np.zeros(at.sum(), bool)),
        }
        if c.window is not None:
            broken["time window"] = np.array([not (c.window[0] <= t <= c.window[1])
                                              for t in np.array(flat_times, dtype=object)[at]])
        for what, where in broken.items():
            if where.any():
                first = np.array(flat_times, dtype=object)[at][int(np.argmax(where))]
                found.append(f"{block.name} {block.start:%H:%M}–{block.end:%H:%M}: {what} at {first:%H:%M:%S}")
    return found
