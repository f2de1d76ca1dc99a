"""Sol'ex: rebuild a solar disk from a spectroheliograph scan (a SER video).

Each frame is a spectrum: one axis runs along the slit (a line across the Sun), the other in
wavelength. As the Sun drifts across the slit, frame ``i`` samples column ``i`` of the image.

Steps (``reconstruct``):

1. Spectral axis: the axis along which the mean frame varies most in its mean profile (an absorption
   line), unless given. Frames are turned so that rows run along the slit and columns in wavelength.
2. Line: in every row of the mean of the sunlit frames the minimum near the deepest column of the
   mean profile is found to sub-pixel (parabola through three points); a polynomial (degree 2) is
   fitted to these centres along the slit with iterative 3-sigma clipping. This is the curvature
   ("smile") of the line, the same for every frame.
3. Image: for each frame and row, the intensity at ``centre(row) + shift`` (linear interpolation);
   one column per frame. ``shift`` 0 is the line core; other shifts give Doppler wings or continuum.
4. Geometry: the disk edge (half the level of the sunlit pixels, sub-pixel crossing along rows and
   columns) is fitted with a conic (an ellipse). A scan speed that does not match the slit scale
   squeezes or stretches the disk along the scan, and a slit not perpendicular to the scan shears
   it. The upper-triangular affine transform ``M`` with ``M^T M`` proportional to the ellipse's
   quadratic form undoes both while keeping the slit axis' scale, so the disk becomes a circle whose
   radius (in pixels along the slit) is reported. Mirror flips are not corrected: north/east
   orientation depends on the mount and the scan direction.
5. Contrast: CLAHE (scikit-image ``equalize_adapthist``) for the PNG; the FITS keeps the geometric
   corrected, un-enhanced values with every parameter in its header.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

__all__ = ["SolexError", "LineFit", "Ellipse", "SolexResult", "find_spectral_axis", "fit_line",
           "extract_image", "fit_disk_ellipse", "correct_geometry", "enhance", "reconstruct", "write_products"]


class SolexError(Exception):
    """The scan cannot be reconstructed; the message says why."""


@dataclass
class LineFit:
    coefficients: np.ndarray  # numpy.polyval order, x = row index along the slit
    rows: np.ndarray  # rows used
    centres: np.ndarray  # measured centres of those rows
    rms: float

    def centre(self, rows: np.ndarray) -> np.ndarray:
        return np.polyval(self.coefficients, rows)


@dataclass
class Ellipse:
    cx: float  # column (scan axis) of the centre
    cy: float  # row (slit axis) of the centre
    a: float  # semi-major axis, px
    b: float  # semi-minor axis, px
    angle_deg: float  # of the major axis, from the column axis toward the row axis
    quadratic: np.ndarray  # Q with (p - c)^T Q (p - c) = 1, p = (column, row)
    rms: float  # rms distance of the edge points from the fitted ellipse, px (approximate)


@dataclass
class SolexResult:
    images: dict[float, np.ndarray]  # shift (px) -> corrected image
    raw_images: dict[float, np.ndarray]  # shift -> image before the geometric correction
    line: LineFit
    ellipse: Ellipse | None
    scale_x: float  # scan-axis stretch applied (output px per frame)
    shear: float  # output columns per row of shear removed
    radius: float  # disk radius in the corrected image, px
    centre: tuple[float, float]  # (x, y) of the disk centre in the corrected image
    spectral_axis: int
    meta: dict = field(default_factory=dict)


def find_spectral_axis(frames: np.ndarray) -> int:
    """Axis (1 or 2 of a (N, H, W) stack) along which the wavelength runs.

    On the brightest frame (the middle of the disk), the profile along each axis over its central
    half, averaged over the central half of the other axis: along the slit it varies slowly (limb
    darkening), along the wavelength it dips deep into the line. The line must lie in the central
    half of the wavelength range, as it does in a centred Sol'ex crop.
    """
    frame = frames[int(np.argmax([f.mean(dtype=np.float64) for f in frames]))].astype(np.float64)
    h, w = frame.shape
    core = frame[h // 4: h - h // 4, w // 4: w - w // 4]
    depths = []
    for axis in (0, 1):  # profile along rows (axis 0) or along columns (axis 1)
        profile = core.mean(axis=1 - axis)
        median = float(np.median(profile))
        depths.append((median - float(profile.min())) / max(abs(median), 1e-9))
    return 1 if depths[0] > depths[1] else 2


def _sunlit(frames: np.ndarray) -> np.ndarray:
    totals = np.array([frame.mean(dtype=np.float64) for frame in frames])
    return totals > 0.5 * np.percentile(totals, 95)


def fit_line(frames: np.ndarray, degree: int = 2, search: int | None = None) -> LineFit:
    """Fit the line centre along the slit; ``frames`` are (N, slit, wavelength)."""
    sunlit = _sunlit(frames)
    mean = np.zeros(frames.shape[1:], dtype=np.float64)
    for k in np.flatnonzero(sunlit):
        mean += frames[k]
    mean /= max(int(sunlit.sum()), 1)
    profile = mean.mean(axis=0)
    n_wave = mean.shape[1]
    guess = int(np.argmin(profile[1:-1])) + 1
    search = search or max(3, n_wave // 4)
    lo, hi = max(1, guess - search), min(n_wave - 1, guess + search + 1)
    level = mean.max(axis=1)
    rows = np.flatnonzero(level > 0.5 * np.percentile(level, 95))
    if len(rows) < degree + 2:
        raise SolexError("too few sunlit rows to find the spectral line")
    window = mean[rows, lo:hi]
    k = np.clip(np.argmin(window, axis=1) + lo, 1, n_wave - 2)
    y0, y1, y2 = mean[rows, k - 1], mean[rows, k], mean[rows, k + 1]
    denom = y0 - 2 * y1 + y2
    offset = np.where(denom > 0, 0.5 * (y0 - y2) / np.where(denom > 0, denom, 1.0), 0.0)
    centres = k + np.clip(offset, -0.5, 0.5)
    keep = np.ones(len(rows), bool)
    coefficients = np.polyfit(rows, centres, degree)
    for _ in range(5):
        resid = centres - np.polyval(coefficients, rows)
        sigma = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep]))) + 1e-3
        new_keep = np.abs(resid) < 3 * sigma
        if new_keep.sum() < degree + 2 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
        coefficients = np.polyfit(rows[keep], centres[keep], degree)
    rms = float(np.sqrt(np.mean((centres[keep] - np.polyval(coefficients, rows[keep])) ** 2)))
    return LineFit(coefficients, rows[keep], centres[keep], rms)


def extract_image(frames: np.ndarray, line: LineFit, shift: float = 0.0) -> np.ndarray:
    """Intensity at ``centre(row) + shift`` of every frame: an image (rows = slit, columns = frames).

    Cubic convolution (Catmull-Rom) through the four nearest wavelength samples: linear
    interpolation would flatten the line core wherever its centre falls between two pixels, and
    print the curvature of the line as bands across the disk.
    """
    n, n_rows, n_wave = frames.shape
    pos = np.clip(line.centre(np.arange(n_rows, dtype=np.float64)) + shift, 0, n_wave - 1)
    i1 = np.clip(np.floor(pos).astype(int), 0, n_wave - 2)
    t = pos - i1
    weights = (
        ((-0.5 * t + 1.0) * t - 0.5) * t,
        (1.5 * t - 2.5) * t * t + 1.0,
        ((-1.5 * t + 2.0) * t + 0.5) * t,
        (0.5 * t - 0.5) * t * t,
    )
    rows = np.arange(n_rows)
    image = np.zeros((n, n_rows), dtype=np.float64)
    for k, weight in zip(range(-1, 3), weights):
        image += weight * frames[:, rows, np.clip(i1 + k, 0, n_wave - 1)]
    return image.T  # (rows, frames)


def _edge_points(image: np.ndarray, level: float) -> np.ndarray:
    """Sub-pixel crossings of ``level`` at both ends of every row and column: (x, y) points."""
    points = []
    for transpose in (False, True):
        img = image.T if transpose else image
        above = img > level
        for r in np.flatnonzero(above.any(axis=1)):
            cols = np.flatnonzero(above[r])
            for c, step in ((cols[0], -1), (cols[-1], 1)):
                c_out = c + step
                if not 0 <= c_out < img.shape[1]:
                    continue
                v_in, v_out = img[r, c], img[r, c_out]
                t = (v_in - level) / (v_in - v_out) if v_in != v_out else 0.5
                x = c + step * t
                points.append((r, x) if transpose else (x, r))
    return np.asarray(points, dtype=np.float64)


def fit_disk_ellipse(image: np.ndarray, level: float | None = None) -> Ellipse:
    """Fit an ellipse to the disk edge of a raw Sol'ex image (columns = frames, rows = slit)."""
    smooth = ndimage.median_filter(image, size=3)
    if level is None:
        bright = smooth[smooth > 0.5 * np.percentile(smooth, 99)]
        level = 0.5 * float(np.median(bright)) if bright.size else 0.0
    pts = _edge_points(smooth, level)
    if len(pts) < 10:
        raise SolexError("no disk edge found")
    for _ in range(3):
        ellipse = _conic_fit(pts)
        d = _ellipse_distance(ellipse, pts)
        keep = np.abs(d) < max(3 * 1.4826 * np.median(np.abs(d)), 1.0)
        if keep.all() or keep.sum() < 10:
            break
        pts = pts[keep]
    return ellipse


def _conic_fit(pts: np.ndarray) -> Ellipse:
    mx, my = pts.mean(axis=0)
    s = float(np.sqrt(np.mean((pts[:, 0] - mx) ** 2 + (pts[:, 1] - my) ** 2))) or 1.0
    x, y = (pts[:, 0] - mx) / s, (pts[:, 1] - my) / s
    design = np.column_stack([x * x, x * y, y * y, x, y, np.ones_like(x)])
    a, b, c, d, e, f = np.linalg.svd(design, full_matrices=False)[2][-1]
    if b * b - 4 * a * c >= 0:
        raise SolexError("the disk edge is not an ellipse")
    centre = np.linalg.solve([[2 * a, b], [b, 2 * c]], [-d, -e])
    f0 = a * centre[0] ** 2 + b * centre[0] * centre[1] + c * centre[1] ** 2 + d * centre[0] + e * centre[1] + f
    q = np.array([[a, b / 2], [b / 2, c]]) / (-f0) / (s * s)
    cx, cy = centre * s + (mx, my)
    evals, evecs = np.linalg.eigh(q)
    if np.any(evals <= 0):
        raise SolexError("the disk edge is not an ellipse")
    semi = 1 / np.sqrt(evals)  # ascending eigenvalues: semi[0] is the major axis
    angle = math.degrees(math.atan2(evecs[1, 0], evecs[0, 0])) % 180.0
    ellipse = Ellipse(float(cx), float(cy), float(semi[0]), float(semi[1]), angle, q, 0.0)
    ellipse.rms = float(np.sqrt(np.mean(_ellipse_distance(ellipse, pts) ** 2)))
    return ellipse


def _ellipse_distance(ellipse: Ellipse, pts: np.ndarray) -> np.ndarray:
    """Approximate signed distance of points from the ellipse, px."""
    p = pts - (ellipse.cx, ellipse.cy)
    r2 = np.einsum("ni,ij,nj->n", p, ellipse.quadratic, p)
    rho = np.sqrt(np.maximum(r2, 1e-12))
    return (1 - 1 / rho) * np.hypot(p[:, 0], p[:, 1])


def correct_geometry(image: np.ndarray, ellipse: Ellipse, margin: float = 1.15) -> tuple[np.ndarray, dict]:
    """Map the fitted ellipse to a circle (slit-axis scale kept); returns the image and the transform."""
    q = ellipse.quadratic
    m00 = math.sqrt(q[0, 0])
    m01 = q[0, 1] / m00
    m11 = math.sqrt(q[1, 1] - m01 * m01)
    # out = M (p - c) / m11 maps the ellipse onto a circle of radius 1 / m11
    matrix = np.array([[m00, m01], [0.0, m11]]) / m11
    radius = 1.0 / m11
    size = int(math.ceil(2 * radius * margin)) | 1
    half = (size - 1) / 2.0
    inverse = np.linalg.inv(matrix)
    # ndimage works in (row, col) order: input (row, col) = c + inverse @ (out_col - half, out_row - half)
    inv_rc = np.array([[inverse[1, 1], inverse[1, 0]], [inverse[0, 1], inverse[0, 0]]])
    offset = np.array([ellipse.cy, ellipse.cx]) - inv_rc @ np.array([half, half])
    out = ndimage.affine_transform(image, inv_rc, offset=offset, output_shape=(size, size), order=1,
                                   mode="constant", cval=0.0)
    info = {"scale_x": float(matrix[0, 0]), "shear": float(matrix[0, 1]), "radius": float(radius),
            "centre": (half, half)}
    return out, info


def enhance(image: np.ndarray, clip_limit: float = 0.01) -> np.ndarray:
    """Contrast-enhanced copy scaled to 0..1 (CLAHE)."""
    from skimage.exposure import equalize_adapthist

    lo, hi = np.percentile(image, [0.5, 99.9])
    scaled = np.clip((image - lo) / max(hi - lo, 1e-12), 0, 1)
    return equalize_adapthist(scaled, clip_limit=clip_limit)


def reconstruct(frames: np.ndarray, shifts: tuple[float, ...] = (0.0,), *, spectral_axis: int | None = None,
                degree: int = 2, correct: bool = True) -> SolexResult:
    """Rebuild the disk image(s) from a (N, H, W) scan (see the module docstring)."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or len(frames) < 10:
        raise SolexError("a scan needs at least 10 mono frames")
    axis = spectral_axis or find_spectral_axis(frames)
    cube = frames if axis == 2 else np.swapaxes(frames, 1, 2)  # a view: a long scan is not copied
    line = fit_line(cube, degree)
    raw = {float(s): extract_image(cube, line, s) for s in shifts}
    if not correct:
        first = raw[float(shifts[0])]
        return SolexResult(raw, raw, line, None, 1.0, 0.0, float("nan"),
                           ((first.shape[1] - 1) / 2, (first.shape[0] - 1) / 2), axis)
    ellipse = fit_disk_ellipse(raw[0.0] if 0.0 in raw else raw[float(shifts[0])])
    images, info = {}, {}
    for s, img in raw.items():
        images[s], info = correct_geometry(img, ellipse)
    return SolexResult(images, raw, line, ellipse, info["scale_x"], info["shear"], info["radius"], info["centre"],
                       axis)


def _shift_label(shift: float) -> str:
    return f"{shift:+g}".replace("+", "p").replace("-", "m").replace(".", "_")


def write_products(result: SolexResult, out_dir: str | os.PathLike, stem: str = "solex",
                   header_extra: dict | None = None) -> list[Path]:
    """Write one FITS and one PNG per shift into ``out_dir``; returns the paths."""
    from astropy.io import fits
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for shift, image in result.images.items():
        hdr = fits.Header()
        hdr["SOLSHIFT"] = (float(shift), "offset from the line centre (px)")
        hdr["SOLAXIS"] = (int(result.spectral_axis), "frame axis of wavelength (1 rows, 2 cols)")
        for i, c in enumerate(result.line.coefficients[::-1]):
            hdr[f"SOLPOLY{i}"] = (float(c), f"line centre poly, row^{i}")
        hdr["SOLLRMS"] = (round(result.line.rms, 4), "rms of the line centre fit (px)")
        if result.ellipse is not None:
            e = result.ellipse
            hdr["SOLELCX"] = (round(e.cx, 3), "ellipse centre, frame index")
            hdr["SOLELCY"] = (round(e.cy, 3), "ellipse centre, slit row")
            hdr["SOLELA"] = (round(e.a, 3), "ellipse semi-major axis (px)")
            hdr["SOLELB"] = (round(e.b, 3), "ellipse semi-minor axis (px)")
            hdr["SOLELANG"] = (round(e.angle_deg, 3), "ellipse major axis angle (deg)")
            hdr["SOLSCALX"] = (round(result.scale_x, 6), "scan axis scale applied")
            hdr["SOLSHEAR"] = (round(result.shear, 6), "shear removed (columns per row)")
            hdr["SOLRAD"] = (round(result.radius, 3), "disk radius (px)")
            hdr["SOLCENX"] = (round(result.centre[0], 3), "disk centre x, 0-based (px)")
            hdr["SOLCENY"] = (round(result.centre[1], 3), "disk centre y, 0-based (px)")
        for key, value in (header_extra or {}).items():
            hdr[key] = value
        hdr["SWCREATE"] = "OBSY solex"
        label = _shift_label(shift)
        fits_path = out / f"{stem}_{label}.fits"
        fits.PrimaryHDU(data=image.astype(np.float32), header=hdr).writeto(fits_path, overwrite=True)
        png_path = out / f"{stem}_{label}.png"
        Image.fromarray((enhance(image) * 65535).astype(np.uint16)).save(png_path)
        written += [fits_path, png_path]
    return written
