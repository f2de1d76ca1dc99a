"""Differential aperture photometry of calibrated frames, and the AAVSO Extended File Format.

``measure_frame`` measures stars (RA/Dec through the frame's WCS, or pixel positions) with
photutils: centroids refined in a small box, FWHM fitted on the stars themselves (or given),
circular apertures of ``aperture_fwhm`` x FWHM, background from the median of an annulus between
``annulus_fwhm`` x FWHM. Flux errors follow the CCD equation,
``sigma_e^2 = F_e + n_ap (1 + n_ap / n_ann) sigma_sky_e^2``, with ``sigma_sky`` the annulus' robust
standard deviation (it holds sky, dark and read noise) and the gain from ``EGAIN`` (or given).

``differential_photometry`` turns the measurements of many frames into a light curve: each frame's
zero point is the inverse-variance weighted mean of ``catalogue mag - instrumental mag`` over the
comparison stars (an ensemble; with one comparison it is simply that star), and target and check
magnitudes are instrumental magnitudes plus that zero point. Without catalogue magnitudes the
comparison stars count as magnitude 0 and the result is a differential magnitude (``MTYPE=DIF``).
A frame is flagged when a star is missing, saturated or too close to the edge, or when the check
star deviates from its median by more than ``clip_sigma`` times its combined (robust scatter and
measured) error.

Times: mid-exposure (``DATE-OBS`` + ``EXPTIME`` / 2) as JD (UTC), HJD (UTC) and BJD_TDB, with
astropy's ``Time.light_travel_time`` for the target and the site from ``SITELAT``/``SITELONG``/
``SITEELEV`` (or given). Airmass: the header's ``AIRMASS``, else sec z from astropy's AltAz.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from astropy.io import fits

__all__ = ["Star", "StarMeasurement", "FrameMeasurement", "LightCurvePoint", "LightCurve", "PhotometryError",
           "frame_times", "bjd_tdb", "airmass_at", "measure_frame", "differential_photometry",
           "format_aavso_extended", "parse_aavso_extended", "measure_files"]

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class PhotometryError(Exception):
    """A frame cannot be measured; the message says why."""


@dataclass(frozen=True)
class Star:
    """A star to measure: name and J2000 position, optionally a catalogue magnitude (comparisons)."""

    name: str
    ra: float | None = None  # deg
    dec: float | None = None  # deg
    mag: float | None = None
    x: float | None = None  # 0-based pixel position, used when the frame has no WCS
    y: float | None = None


@dataclass
class StarMeasurement:
    name: str
    x: float
    y: float
    flux: float  # ADU, background subtracted
    flux_err: float  # ADU
    background: float  # ADU per pixel
    peak: float  # ADU, maximum in the aperture (background included)
    flags: list[str] = field(default_factory=list)

    @property
    def mag(self) -> float:
        return -2.5 * math.log10(self.flux) if self.flux > 0 else float("nan")

    @property
    def mag_err(self) -> float:
        return 2.5 / math.log(10) * self.flux_err / self.flux if self.flux > 0 else float("nan")


@dataclass
class FrameMeasurement:
    path: str
    jd_utc: float  # mid-exposure
    hjd_utc: float
    bjd_tdb: float
    airmass: float | None
    exptime: float
    filter: str
    fwhm: float  # px
    aperture: float  # radius, px
    stars: dict[str, StarMeasurement]


def _site_location(header: fits.Header, site: tuple[float, float, float] | None):
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    if site is None:
        lat = header.get("SITELAT", header.get("LAT-OBS"))
        lon = header.get("SITELONG", header.get("LONG-OBS"))
        if lat is None or lon is None:
            return None
        site = (_angle(lat), _angle(lon), float(header.get("SITEELEV", header.get("ALT-OBS", 0.0)) or 0.0))
    return EarthLocation.from_geodetic(lon=site[1] * u.deg, lat=site[0] * u.deg, height=site[2] * u.m)


def _angle(value) -> float:
    """Degrees from a number or a sexagesimal string ('+45 30 00', '45:30:00')."""
    if isinstance(value, (int, float)):
        return float(value)
    parts = str(value).replace(":", " ").split()
    sign = -1.0 if parts[0].startswith("-") else 1.0
    total = 0.0
    for i, p in enumerate(parts[:3]):
        total += abs(float(p)) / 60.0**i
    return sign * total


@contextmanager
def _offline_iers():
    """Earth orientation from the IERS tables astropy ships, never a download; past their end,
    predictions degrade with a warning instead of an error. UT1 and polar motion change a
    barycentric correction by far less than a millisecond, and an airmass by nothing that matters."""
    from astropy.utils import iers

    with iers.conf.set_temp("auto_download", False), iers.conf.set_temp("auto_max_age", None), \
            iers.conf.set_temp("iers_degraded_accuracy", "warn"):
        yield


def bjd_tdb(jd_utc: float | np.ndarray, ra: float, dec: float, location) -> np.ndarray:
    """BJD_TDB of UTC Julian dates for a target (deg) seen from an astropy EarthLocation."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time

    t = Time(jd_utc, format="jd", scale="utc", location=location)
    with _offline_iers():
        ltt = t.light_travel_time(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), "barycentric")
    return (t.tdb + ltt).jd


def _hjd_utc(jd_utc: float, ra: float, dec: float, location) -> float:
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time

    t = Time(jd_utc, format="jd", scale="utc", location=location)
    with _offline_iers():
        ltt = t.light_travel_time(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), "heliocentric")
    return float((t.utc + ltt).jd)


def airmass_at(jd_utc: float, ra: float, dec: float, location) -> float | None:
    """sec z of a target at a time (astropy AltAz, no refraction); None below the horizon."""
    from astropy import units as u
    from astropy.coordinates import AltAz, SkyCoord
    from astropy.time import Time
    with _offline_iers():
        t = Time(jd_utc, format="jd", scale="utc")
        altaz = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").transform_to(AltAz(obstime=t, location=location))
    alt = float(altaz.alt.deg)
    if alt <= 0:
        return None
    return float(1.0 / math.sin(math.radians(alt)))


def frame_times(header: fits.Header, ra: float, dec: float,
                site: tuple[float, float, float] | None = None) -> tuple[float, float, float, float | None]:
    """(JD UTC, HJD UTC, BJD_TDB, airmass) at mid-exposure; HJD/BJD need the site (else = JD)."""
    from astropy.time import Time

    date_obs = header.get("DATE-OBS")
    if date_obs:
        start = Time(str(date_obs).replace(" ", "T"), format="isot", scale="utc")
    elif header.get("MJD-OBS") is not None:
        start = Time(float(header["MJD-OBS"]), format="mjd", scale="utc")
    elif header.get("JD") is not None:
        start = Time(float(header["JD"]), format="jd", scale="utc")
    else:
        raise PhotometryError("no DATE-OBS, MJD-OBS or JD in the header")
    exptime = float(header.get("EXPTIME", header.get("EXPOSURE", 0.0)) or 0.0)
    jd = float(start.jd) + exptime / 2.0 / 86400.0
    location = _site_location(header, site)
    airmass = header.get("AIRMASS")
    if location is None:
        return jd, jd, jd, float(airmass) if airmass is not None else None
    if airmass is None:
        airmass = airmass_at(jd, ra, dec, location)
    return jd, _hjd_utc(jd, ra, dec, location), float(bjd_tdb(jd, ra, dec, location)), (
        float(airmass) if airmass is not None else None)


def _positions(header: fits.Header, stars: Sequence[Star]) -> np.ndarray:
    need_wcs = [s for s in stars if s.x is None or s.y is None]
    xy = np.array([[s.x if s.x is not None else np.nan, s.y if s.y is not None else np.nan] for s in stars], float)
    if need_wcs:
        from astropy.wcs import WCS

        wcs = WCS(header, naxis=2)
        if not wcs.has_celestial:
            raise PhotometryError("the frame has no celestial WCS (plate-solve it, or give pixel positions)")
        for i, s in enumerate(stars):
            if s.x is None or s.y is None:
                if s.ra is None or s.dec is None:
                    raise PhotometryError(f"star {s.name} has neither RA/Dec nor a pixel position")
                xy[i] = wcs.all_world2pix([[s.ra, s.dec]], 0)[0]
    return xy


FWHM_STARS = 10  # a median over ten stars is steady; fitting all of a long list costs seconds a frame


def _fwhm_stars(data: np.ndarray, xy: np.ndarray, ok: np.ndarray, saturation: float | None) -> np.ndarray:
    """The brightest unsaturated stars (by their peak pixel) of those usable for the FWHM."""
    idx = np.flatnonzero(ok)
    peaks = data[np.round(xy[idx, 1]).astype(int), np.round(xy[idx, 0]).astype(int)]
    if saturation is not None and (peaks < saturation).any():
        idx, peaks = idx[peaks < saturation], peaks[peaks < saturation]
    return xy[idx[np.argsort(-peaks)[:FWHM_STARS]]]


def measure_frame(data: np.ndarray, header: fits.Header, stars: Sequence[Star], *, path: str = "",
                  fwhm: float | None = None, aperture_fwhm: float = 1.75,
                  annulus_fwhm: tuple[float, float] = (3.0, 5.0),
                  gain: float | None = None, saturation: float | None = None, centroid_box: int = 11,
                  site: tuple[float, float, float] | None = None, time_star: Star | None = None) -> FrameMeasurement:
    """Measure ``stars`` on one calibrated frame (see the module docstring)."""
    from astropy.stats import SigmaClip, sigma_clipped_stats
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture, aperture_photometry
    from photutils.centroids import centroid_com, centroid_sources
    from photutils.psf import fit_fwhm

    data = np.asarray(data, dtype=np.float64)
    h, w = data.shape
    xy = _positions(header, stars)
    on = (xy[:, 0] > 2) & (xy[:, 0] < w - 3) & (xy[:, 1] > 2) & (xy[:, 1] < h - 3)
    if not on.any():
        raise PhotometryError("no star of the list falls on the frame")
    bg = float(sigma_clipped_stats(data, sigma=3.0, maxiters=3)[1])
    cx, cy = centroid_sources(data - bg, xy[on, 0], xy[on, 1], box_size=centroid_box, centroid_func=centroid_com)
    refined = xy.copy()
    good = np.isfinite(cx) & np.isfinite(cy)
    refined[np.flatnonzero(on)[good], 0] = cx[good]
    refined[np.flatnonzero(on)[good], 1] = cy[good]
    if saturation is None and header.get("SATURATE") is not None:
        saturation = float(header["SATURATE"])
    if fwhm is None:
        margin = centroid_box
        ok = on & (refined[:, 0] > margin) & (refined[:, 0] < w - margin) & (refined[:, 1] > margin) & (
            refined[:, 1] < h - margin)
        if not ok.any():
            raise PhotometryError("no star far enough from the edge to measure the FWHM")
        fwhms = np.atleast_1d(fit_fwhm(data - bg, xypos=_fwhm_stars(data, refined, ok, saturation), fit_shape=7))
        fwhms = fwhms[np.isfinite(fwhms) & (fwhms > 0.5)]
        if not len(fwhms):
            raise PhotometryError("the FWHM could not be measured")
        fwhm = float(np.median(fwhms))
    radius = aperture_fwhm * fwhm
    r_in, r_out = annulus_fwhm[0] * fwhm, annulus_fwhm[1] * fwhm
    if gain is None:
        gain = float(header.get("EGAIN", header.get("GAIN_E", 1.0)) or 1.0)
    aper = CircularAperture(refined, r=radius)
    annulus = CircularAnnulus(refined, r_in=r_in, r_out=r_out)
    ann_stats = ApertureStats(data, annulus, sigma_clip=SigmaClip(sigma=3.0, maxiters=5))
    sky = np.atleast_1d(ann_stats.median)
    sky_std = np.atleast_1d(ann_stats.mad_std)
    n_ann = np.atleast_1d(ann_stats.sum_aper_area.value)
    table = aperture_photometry(data, aper)
    area = np.atleast_1d(aper.area_overlap(data))
    peaks = np.atleast_1d(ApertureStats(data, aper).max)
    measured: dict[str, StarMeasurement] = {}
    for i, star in enumerate(stars):
        flags = []
        x, y = refined[i]
        inside = radius < x < w - 1 - radius and radius < y < h - 1 - radius
        if not on[i]:
            flags.append("off_frame")
        elif not inside or r_out > min(x, y, w - 1 - x, h - 1 - y):
            flags.append("edge")
        flux = float(table["aperture_sum"][i]) - float(sky[i]) * float(area[i])
        var_e = max(flux, 0.0) * gain + area[i] * (1.0 + area[i] / max(n_ann[i], 1.0)) * (sky_std[i] * gain) ** 2
        err = float(math.sqrt(var_e) / gain) if np.isfinite(var_e) else float("nan")
        peak = float(peaks[i]) if np.isfinite(peaks[i]) else float("nan")
        if on[i] and saturation is not None and peak >= saturation:
            flags.append("saturated")
        if on[i] and not flux > 0:
            flags.append("no_flux")
        measured[star.name] = StarMeasurement(star.name, float(x), float(y), flux, err, float(sky[i]), peak, flags)
    ref = time_star or stars[0]
    ra, dec = (ref.ra, ref.dec) if ref.ra is not None else (header.get("RA", 0.0), header.get("DEC", 0.0))
    jd, hjd, bjd, airmass = frame_times(header, float(ra), float(dec), site)
    return FrameMeasurement(path, jd, hjd, bjd, airmass, float(header.get("EXPTIME", 0.0) or 0.0),
                            str(header.get("FILTER", "") or ""), float(fwhm), float(radius), measured)


# --------------------------------------------------------------------------- light curve


@dataclass
class LightCurvePoint:
    frame: FrameMeasurement
    mag: float
    mag_err: float
    check_mag: float | None
    check_err: float | None
    comp_mag: float  # ensemble (or single) comparison magnitude as used: catalogue mean, or instrumental
    zero_point: float
    rel_flux: float  # target flux / sum of comparison fluxes
    rel_flux_err: float
    flags: list[str] = field(default_factory=list)

    @property
    def good(self) -> bool:
        return not self.flags


@dataclass
class LightCurve:
    target: Star
    comps: list[Star]
    check: Star | None
    points: list[LightCurvePoint]
    standardized: bool  # comparison catalogue magnitudes were known

    def arrays(self, good_only: bool = True) -> dict[str, np.ndarray]:
        pts = [p for p in self.points if p.good or not good_only]
        return {
            "jd": np.array([p.frame.jd_utc for p in pts]), "bjd_tdb": np.array([p.frame.bjd_tdb for p in pts]),
            "mag": np.array([p.mag for p in pts]), "mag_err": np.array([p.mag_err for p in pts]),
            "rel_flux": np.array([p.rel_flux for p in pts]), "rel_flux_err": np.array([p.rel_flux_err for p in pts]),
            "airmass": np.array([p.frame.airmass if p.frame.airmass is not None else np.nan for p in pts]),
        }


def differential_photometry(frames: Iterable[FrameMeasurement], target: Star, comps: Sequence[Star],
                            check: Star | None = None, clip_sigma: float = 4.0) -> LightCurve:
    """Ensemble differential magnitudes of the target (and check star) on every frame."""
    if not comps:
        raise ValueError("at least one comparison star is needed")
    standardized = all(c.mag is not None for c in comps)
    points: list[LightCurvePoint] = []
    for frame in frames:
        flags: list[str] = []
        t = frame.stars.get(target.name)
        if t is None or t.flags:
            flags.append(f"target:{','.join(t.flags) if t else 'missing'}")
        zps, ws, comp_flux, comp_var = [], [], 0.0, 0.0
        for c in comps:
            m = frame.stars.get(c.name)
            if m is None or m.flags:
                flags.append(f"comp {c.name}:{','.join(m.flags) if m else 'missing'}")
                continue
            zps.append((c.mag if standardized else 0.0) - m.mag)
            ws.append(1.0 / max(m.mag_err, 1e-5) ** 2)
            comp_flux += m.flux
            comp_var += m.flux_err**2
        if not zps:
            flags.append("no comparison")
            zp = zp_err = float("nan")
        else:
            zps_a, ws_a = np.array(zps), np.array(ws)
            zp = float(np.sum(zps_a * ws_a) / np.sum(ws_a))
            zp_err = float(1.0 / math.sqrt(np.sum(ws_a)))
        t_mag = t.mag if t is not None else float("nan")
        t_err = t.mag_err if t is not None else float("nan")
        mag = t_mag + zp
        err = math.sqrt(t_err**2 + zp_err**2) if np.isfinite(zp_err) else float("nan")
        check_mag = check_err = None
        if check is not None:
            k = frame.stars.get(check.name)
            if k is None or k.flags:
                flags.append(f"check:{','.join(k.flags) if k else 'missing'}")
            else:
                check_mag = k.mag + zp
                check_err = math.sqrt(k.mag_err**2 + zp_err**2)
        comp_mag = float(np.mean([c.mag for c in comps])) if standardized else -zp
        if t is not None and comp_flux > 0:
            rel = t.flux / comp_flux
            rel_err = (rel * math.sqrt((t.flux_err / t.flux) ** 2 + comp_var / comp_flux**2) if t.flux > 0
                       else float("nan"))
        else:
            rel = rel_err = float("nan")
        points.append(LightCurvePoint(frame, mag, err, check_mag, check_err, comp_mag, zp, rel, rel_err, flags))
    if check is not None:
        _flag_check_outliers(points, clip_sigma)
    return LightCurve(target, list(comps), check, points, standardized)


def _flag_check_outliers(points: list[LightCurvePoint], clip_sigma: float) -> None:
    """Flag frames where the check star strays (iterative clipping around its median)."""
    idx = [i for i, p in enumerate(points) if p.check_mag is not None and np.isfinite(p.check_mag)]
    if len(idx) < 3:
        return
    mags = np.array([points[i].check_mag for i in idx])
    errs = np.array([points[i].check_err for i in idx])
    keep = np.ones(len(idx), bool)
    for _ in range(5):
        centre = np.median(mags[keep])
        scatter = 1.4826 * np.median(np.abs(mags[keep] - centre))
        bad = np.abs(mags - centre) > clip_sigma * np.sqrt(scatter**2 + errs**2)
        if np.array_equal(~bad, keep):
            break
        keep = ~bad
    for j in np.flatnonzero(~keep):
        points[idx[j]].flags.append("check_outlier")


# --------------------------------------------------------------------------- AAVSO Extended File Format

AAVSO_COLUMNS = ("STARID", "DATE", "MAG", "MERR", "FILT", "TRANS", "MTYPE", "CNAME", "CMAG", "KNAME", "KMAG",
                 "AMASS", "GROUP", "CHART", "NOTES")
_DATE_FIELDS = {"JD": "jd_utc", "HJD": "hjd_utc", "BJD": "bjd_tdb"}


def _clean(value: str, delim: str) -> str:
    return str(value).replace(delim, " ").replace("\n", " ").strip() or "na"


def format_aavso_extended(curve: LightCurve, *, obscode: str, software: str = "OBSY", delim: str = ",",
                          date_type: str = "JD", filter_name: str | None = None, chart: str = "na",
                          group: str = "na", include_flagged: bool = False, obstype: str = "CCD",
                          star_id: str | None = None) -> str:
    """The light curve as an AAVSO Extended File Format report (one line per good frame).

    ``date_type`` is JD (mid-exposure, UTC), HJD (UTC) or BJD (BJD_TDB). With one comparison star
    CNAME/CMAG name it (CMAG is its catalogue magnitude, or its instrumental magnitude when
    MTYPE=DIF); with several, CNAME is ENSEMBLE, CMAG is na and NOTES list the comparisons.
    Flagged frames are left out unless ``include_flagged`` (then their flags go into NOTES).
    """
    date_type = date_type.upper()
    if date_type not in _DATE_FIELDS:
        raise ValueError(f"date_type must be one of {sorted(_DATE_FIELDS)}")
    lines = ["#TYPE=EXTENDED", f"#OBSCODE={obscode}", f"#SOFTWARE={software}", f"#DELIM={delim}",
             f"#DATE={date_type}", f"#OBSTYPE={obstype}", "#" + delim.join(AAVSO_COLUMNS)]
    ensemble = len(curve.comps) > 1
    mtype = "STD" if curve.standardized else "DIF"
    for p in curve.points:
        if p.flags and not include_flagged:
            continue
        notes = []
        if ensemble:
            notes.append("ENSEMBLE of " + " ".join(c.name for c in curve.comps))
        if p.flags:
            notes.append("FLAGS " + " ".join(f.replace(",", "+") for f in p.flags))
        cname = "ENSEMBLE" if ensemble else curve.comps[0].name
        cmag = "na" if ensemble else f"{p.comp_mag:.4f}"
        kname = curve.check.name if curve.check is not None else "na"
        kmag = f"{p.check_mag:.4f}" if p.check_mag is not None else "na"
        amass = f"{p.frame.airmass:.4f}" if p.frame.airmass is not None else "na"
        date = getattr(p.frame, _DATE_FIELDS[date_type])
        filt = filter_name or p.frame.filter or "CV"
        row = [star_id or curve.target.name, f"{date:.6f}", f"{p.mag:.4f}", f"{p.mag_err:.4f}", filt, "NO", mtype,
               cname, cmag, kname, kmag, amass, group, chart, "|".join(notes) or "na"]
        lines.append(delim.join(_clean(v, delim) for v in row))
    return "\n".join(lines) + "\n"


def parse_aavso_extended(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Parameters (``#KEY=value`` lines) and rows (dicts by column) of an AAVSO Extended report."""
    params: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    delim = ","
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            if "=" in line:
                key, _, value = line[1:].partition("=")
                params[key.strip().upper()] = value.strip()
                if key.strip().upper() == "DELIM":
                    delim = {"comma": ",", "tab": "\t"}.get(value.strip().lower(), value.strip() or ",")
            continue
        values = line.split(delim)
        if len(values) != len(AAVSO_COLUMNS):
            raise ValueError(f"expected {len(AAVSO_COLUMNS)} fields, got {len(values)}: {line!r}")
        rows.append(dict(zip(AAVSO_COLUMNS, values)))
    return params, rows


def measure_files(paths: Sequence[str | os.PathLike], stars: Sequence[Star], **kwargs) -> tuple[
        list[FrameMeasurement], list[tuple[str, str]]]:
    """Measure every file; returns the measurements and (path, reason) for those that failed."""
    from master.fitsmeta.reader import FitsReadError, read_fits

    out, errors = [], []
    for path in paths:
        try:
            header, data = read_fits(path, require_image=True)
            out.append(measure_frame(data, header, stars, path=str(path), **kwargs))
        except (FitsReadError, PhotometryError) as exc:
            errors.append((str(path), getattr(exc, "reason", str(exc))))
    out.sort(key=lambda f: f.jd_utc)
    return out, errors
