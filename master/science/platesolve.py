"""Give a frame without WCS one: by star pattern against a solved frame, or with astrometry.net.

``match_reference``: stars found with sep on both frames are matched by astroalign (triangle
asterisms, so shifts, rotations and small scale changes are fine); the similarity transform from
this frame's pixels to the reference's then carries the reference's WCS over: exactly for a TAN
projection, and with its SIP distortion refitted on this frame's pixel grid when it has one.
A frame of a series is first tried against the previous match (nearest stars, refit, checked),
which is several times cheaper than the asterism search.

``solve_field``: astrometry.net's ``solve-field`` (Debian package, comes with KStars), only when
index files are installed; without them it cannot solve anything, and the error says so.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = ["PlateSolveError", "Reference", "celestial_wcs", "detect_stars", "match_reference", "solve_field",
           "INDEX_DIRS"]

INDEX_DIRS = ("/usr/share/astrometry", "/usr/share/astrometry/data", "/usr/local/astrometry/data")
MAX_STARS = 60  # the brightest are enough for asterisms, and keep matching fast


class PlateSolveError(Exception):
    """The frame could not be solved; the message says why."""


def celestial_wcs(header) -> WCS | None:
    """The header's celestial WCS, or None when it has none."""
    from astropy.wcs import FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception:  # a broken WCS is no WCS; the frame is then solved like any other
            return None
    return wcs if wcs.has_celestial else None


def detect_stars(data: np.ndarray, max_stars: int = MAX_STARS) -> np.ndarray:
    """(N, 2) 0-based x, y of the brightest point sources, brightest first."""
    import sep

    image = np.ascontiguousarray(data, dtype=np.float32)
    background = sep.Background(image)
    found = sep.extract(image - background, 5.0, err=background.globalrms, minarea=5)
    found = found[(found["flag"] == 0) & np.isfinite(found["flux"])]
    order = np.argsort(found["flux"])[::-1][:max_stars]
    return np.column_stack([found["x"][order], found["y"][order]])


@dataclass
class Reference:
    """A solved frame to match others against: its star positions and WCS."""

    stars: np.ndarray
    wcs: WCS
    frame_id: int | None = None
    last: np.ndarray | None = None  # the last transform found: frames of a series are near the previous one

    @classmethod
    def from_frame(cls, data: np.ndarray, wcs: WCS, frame_id: int | None = None) -> "Reference":
        return cls(detect_stars(data), wcs.celestial, frame_id)


def match_reference(data: np.ndarray, reference: Reference) -> tuple[WCS, dict]:
    """A WCS for ``data`` from the reference frame, and what the match was (stars, residual)."""
    import astroalign

    stars = detect_stars(data)
    if len(stars) < 3 or len(reference.stars) < 3:
        raise PlateSolveError(f"too few stars to match ({len(stars)} here, {len(reference.stars)} on the reference)")
    found = _near_guess(stars, reference.stars, reference.last if reference.last is not None else np.eye(3))
    matcher = "near the last match" if found is not None else "asterisms"
    if found is None:
        try:
            transform, (here, there) = astroalign.find_transform(stars, reference.stars)
        except (astroalign.MaxIterError, ValueError) as exc:
            raise PlateSolveError(f"the star pattern does not match the reference frame: {exc}") from None
    else:
        transform, here, there = found
    reference.last = transform.params
    wcs = _carried_wcs(reference.wcs, transform.params, data.shape)
    # residual: the matched stars through the new WCS against where the reference puts them
    world = reference.wcs.all_pix2world(there, 0)
    predicted = wcs.all_world2pix(world, 0)
    rms = float(np.sqrt(np.mean(np.sum((predicted - here) ** 2, axis=1))))
    return wcs, {"method": "star pattern", "matcher": matcher, "reference_frame": reference.frame_id,
                 "matched": int(len(here)),
                 "rms_px": round(rms, 4)}


def _linear_wcs(ref: WCS, matrix: np.ndarray) -> WCS:
    """The reference's linear WCS moved by ``matrix`` (this frame's 0-based pixels → the reference's)."""
    a, t = matrix[:2, :2], matrix[:2, 2]
    ref_origin = ref.wcs.crpix - 1.0  # 0-based, as astroalign's pixels
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [c.replace("-SIP", "") for c in ref.wcs.ctype]
    wcs.wcs.cunit = list(ref.wcs.cunit)
    wcs.wcs.crval = ref.wcs.crval
    wcs.wcs.lonpole, wcs.wcs.latpole = ref.wcs.lonpole, ref.wcs.latpole
    wcs.wcs.radesys, wcs.wcs.equinox = ref.wcs.radesys, ref.wcs.equinox
    wcs.wcs.crpix = np.linalg.solve(a, ref_origin - t) + 1.0
    wcs.wcs.cd = ref.pixel_scale_matrix @ a
    wcs.wcs.set()
    return wcs


SIP_GRID = 16  # points per side where a distorted reference is sampled to refit its distortion here


def _carried_wcs(ref: WCS, matrix: np.ndarray, shape: tuple[int, int]) -> WCS:
    """This frame's WCS from the reference's: exact when it is linear; with its SIP distortion refitted.

    SIP polynomials are tied to the reference's pixel grid, so they cannot be moved by a rotation and
    shift; instead this frame's pixels are sent through the transform and the reference's full WCS,
    and a SIP WCS of the same order is fitted to those noise-free positions."""
    linear = _linear_wcs(ref, matrix)
    if ref.sip is None:
        return linear
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import fit_wcs_from_points

    height, width = shape
    ys, xs = np.meshgrid(np.linspace(0, height - 1, SIP_GRID), np.linspace(0, width - 1, SIP_GRID), indexing="ij")
    here = np.column_stack([xs.ravel(), ys.ravel()])
    there = here @ matrix[:2, :2].T + matrix[:2, 2]
    world = ref.all_pix2world(there, 0)
    frame = (ref.wcs.radesys or "icrs").lower()
    sky = SkyCoord(world[:, 0], world[:, 1], unit="deg", frame=frame if frame in ("icrs", "fk5") else "icrs")
    centre = linear.pixel_to_world((width - 1) / 2, (height - 1) / 2)
    with warnings.catch_warnings():  # astropy resets CDELT when the template has a CD matrix, and says so
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_wcs_from_points((here[:, 0], here[:, 1]), sky, proj_point=centre, projection=linear,
                                   sip_degree=max(ref.sip.a_order, 1))


def _similarity(here: np.ndarray, there: np.ndarray):
    """The least-squares similarity transform here → there, or None (scikit-image before and after 0.26)."""
    from skimage.transform import SimilarityTransform

    if hasattr(SimilarityTransform, "from_estimate"):
        transform = SimilarityTransform.from_estimate(here, there)
        return transform if transform else None
    transform = SimilarityTransform()
    return transform if transform.estimate(here, there) else None


def _near_guess(stars: np.ndarray, ref_stars: np.ndarray, guess: np.ndarray, tolerance_px: float = 3.0):
    """(transform, here, there) when ``guess`` already lines most stars up; None: ask astroalign.

    astroalign's asterism search costs a few hundred ms a frame; a frame of a time series sits within
    a few pixels of the previous one, so matching nearest neighbours after the last transform and
    refitting is enough, and checked: most stars must pair up and the fit must leave < 0.5 px."""
    from scipy.spatial import cKDTree

    predicted = stars @ guess[:2, :2].T + guess[:2, 2]
    distance, index = cKDTree(ref_stars).query(predicted, distance_upper_bound=tolerance_px)
    paired = np.isfinite(distance)
    if paired.sum() < max(6, 0.6 * min(len(stars), len(ref_stars))):
        return None
    transform = _similarity(stars[paired], ref_stars[index[paired]])
    if transform is None:
        return None
    # pair again through the fitted transform, tightly, so a wrong neighbour does not bend the fit
    distance, index = cKDTree(ref_stars).query(transform(stars), distance_upper_bound=1.0)
    paired = np.isfinite(distance)
    here, there = stars[paired], ref_stars[index[paired]]
    transform = _similarity(here, there) if paired.sum() >= 6 else None
    if transform is None:
        return None
    residual = np.hypot(*(transform(here) - there).T)
    if np.sqrt(np.mean(residual ** 2)) > 0.5:
        return None
    return transform, here, there


def index_files(dirs=INDEX_DIRS) -> list[str]:
    return sorted(f for d in dirs for f in glob.glob(os.path.join(d, "**", "index-*.fits*"), recursive=True))


def solve_field(path: str | os.PathLike, *, ra: float | None = None, dec: float | None = None,
                radius_deg: float = 5.0, scale_arcsec: float | None = None, timeout_s: float = 120.0,
                index_dirs=INDEX_DIRS, program: str = "solve-field") -> tuple[WCS, dict]:
    """Solve one FITS file with astrometry.net; hints (pointing, plate scale) make it quick."""
    binary = shutil.which(program)
    if binary is None:
        raise PlateSolveError("astrometry.net is not installed (no solve-field); install the astrometry.net "
                              "Debian package and index files, or keep a solved frame of the target as reference")
    if not index_files(index_dirs):
        raise PlateSolveError(f"astrometry.net has no index files (looked in {', '.join(index_dirs)}): install "
                              "the astrometry-data packages or index files for your field size")
    with tempfile.TemporaryDirectory(prefix="obsy-solve-") as tmp:
        config = Path(tmp) / "astrometry.cfg"
        config.write_text("".join(f"add_path {d}\n" for d in index_dirs) + "autoindex\ninparallel\n")
        command = [binary, "--no-plots", "--overwrite", "--no-remove-lines", "--dir", tmp, "--new-fits", "none",
                   "--backend-config", str(config), "--cpulimit", str(int(timeout_s)), str(path)]
        if ra is not None and dec is not None:
            command += ["--ra", f"{ra:.6f}", "--dec", f"{dec:.6f}", "--radius", f"{radius_deg:g}"]
        if scale_arcsec:
            command += ["--scale-units", "arcsecperpix", "--scale-low", f"{scale_arcsec * 0.9:g}",
                        "--scale-high", f"{scale_arcsec * 1.1:g}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s + 30)
        except subprocess.TimeoutExpired:
            raise PlateSolveError(f"solve-field found no solution within {timeout_s:g} s") from None
        solution = Path(tmp) / (Path(path).name.split(".")[0] + ".wcs")
        if done.returncode != 0 or not solution.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PlateSolveError(f"solve-field found no solution ({tail[0][:200]})")
        wcs = WCS(fits.getheader(solution), naxis=2)
    return wcs, {"method": "astrometry.net"}
