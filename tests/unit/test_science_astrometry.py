"""astrometry.net for real: solve-field on a frame with optical distortion, and that distortion
carried to the frames matched to it by star pattern.

The index is built from the simulator's sky (tests/astrometry_index.py); the frames are drawn here
through a TAN-SIP WCS, so the true position of every pixel is known.
"""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from master.science.frame_wcs import with_wcs
from master.science.platesolve import Reference, celestial_wcs, match_reference, solve_field
from node_telescope.simulator.sky import stars_in_field
from tests.astrometry_index import build_index

RA0, DEC0 = 150.0, 55.0
SHAPE = (400, 500)  # rows, columns
SCALE_ARCSEC = 1.3
MAG_LIMIT = 18.5  # about 30 stars on the frame
# pincushion-like terms worth ~3 px in the corners: a linear WCS is visibly wrong there
SIP_A = {"A_2_0": 3.0e-5, "A_1_1": 1.5e-5, "A_0_2": -1.0e-5}
SIP_B = {"B_2_0": -1.0e-5, "B_1_1": 2.0e-5, "B_0_2": 3.5e-5}


def true_wcs(ra: float, dec: float, sip: bool = True) -> WCS:
    header = fits.Header()
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = 2, SHAPE[1], SHAPE[0]
    suffix = "-SIP" if sip else ""
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN" + suffix, "DEC--TAN" + suffix
    header["CRVAL1"], header["CRVAL2"] = ra, dec
    header["CRPIX1"], header["CRPIX2"] = (SHAPE[1] + 1) / 2, (SHAPE[0] + 1) / 2
    scale, turn = SCALE_ARCSEC / 3600, np.radians(12.0)
    header["CD1_1"], header["CD1_2"] = -scale * np.cos(turn), scale * np.sin(turn)
    header["CD2_1"], header["CD2_2"] = scale * np.sin(turn), scale * np.cos(turn)
    if sip:
        header["A_ORDER"], header["B_ORDER"] = 2, 2
        header.update(SIP_A)
        header.update(SIP_B)
    return WCS(header)


def draw(wcs: WCS, seed: int) -> np.ndarray:
    """Stars of the simulator's sky through ``wcs`` (distortion and all) on a noisy background."""
    ra, dec, mag = stars_in_field(RA0, DEC0, 0.3, MAG_LIMIT)
    x, y = wcs.all_world2pix(ra, dec, 0)
    rng = np.random.default_rng(seed)
    image = rng.normal(200.0, 5.0, SHAPE)
    yy, xx = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    sigma = 1.4
    for xi, yi, m in zip(x, y, mag):
        if -10 < xi < SHAPE[1] + 10 and -10 < yi < SHAPE[0] + 10:
            x0, x1 = max(0, int(xi) - 8), min(SHAPE[1], int(xi) + 9)
            y0, y1 = max(0, int(yi) - 8), min(SHAPE[0], int(yi) + 9)
            if x0 < x1 and y0 < y1:
                flux = 10 ** (-0.4 * (m - 17.0)) * 2000.0
                image[y0:y1, x0:x1] += flux / (2 * np.pi * sigma ** 2) * np.exp(
                    -((xx[y0:y1, x0:x1] - xi) ** 2 + (yy[y0:y1, x0:x1] - yi) ** 2) / (2 * sigma ** 2))
    return image.astype(np.float32)


def worst_error_px(found: WCS, truth: WCS) -> float:
    """Largest distance, over a grid covering the frame, between where the two WCS put a sky point."""
    yy, xx = np.mgrid[0:SHAPE[0]:25, 0:SHAPE[1]:25]
    pixels = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    back = truth.all_world2pix(found.all_pix2world(pixels, 0), 0)
    return float(np.max(np.hypot(*(back - pixels).T)))


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    ra, dec, mag = stars_in_field(RA0, DEC0, 0.5, MAG_LIMIT)
    return build_index(tmp_path_factory.mktemp("astrometry") / "index", ra, dec, mag)


@pytest.fixture(scope="module")
def solved(index_dir, tmp_path_factory):
    """(frame data, solve-field's WCS, what it said) of a distorted frame with no WCS at all."""
    truth = true_wcs(RA0, DEC0)
    data = draw(truth, seed=1)
    path = tmp_path_factory.mktemp("frame") / "light.fits"
    fits.PrimaryHDU(data).writeto(path)
    wcs, how = solve_field(path, ra=RA0 + 0.02, dec=DEC0 - 0.01, scale_arcsec=SCALE_ARCSEC,
                           index_dirs=(str(index_dir),), timeout_s=60)
    return data, wcs, how


def test_solve_field_finds_the_position_and_the_distortion(solved):
    _, wcs, how = solved
    truth = true_wcs(RA0, DEC0)
    assert how == {"method": "astrometry.net"}
    assert wcs.sip is not None  # solve-field fits distortion terms (its default tweak order is 2)
    assert worst_error_px(wcs, truth) < 0.5
    # the distortion matters: the same WCS without it misplaces the corners by pixels
    assert worst_error_px(true_wcs(RA0, DEC0, sip=False), truth) > 1.5


def test_the_solution_written_into_a_header_keeps_its_distortion(solved):
    data, wcs, _ = solved
    header = with_wcs(fits.Header({"OBJECT": "VAR FIELD"}), wcs, "astrometry.net")
    read_back = celestial_wcs(header)
    assert read_back.sip is not None and header["OBJECT"] == "VAR FIELD"
    assert worst_error_px(read_back, wcs) < 1e-3  # header cards round the numbers


def test_a_dithered_frame_matched_to_the_solved_one_gets_its_distortion(solved):
    data, wcs, _ = solved
    # the same camera pointed a few pixels away: same distortion on the sensor, another centre
    dither = true_wcs(RA0, DEC0).pixel_to_world(SHAPE[1] / 2 - 0.5 + 4.3, SHAPE[0] / 2 - 0.5 - 2.7)
    truth = true_wcs(dither.ra.deg, dither.dec.deg)
    moved = draw(truth, seed=2)
    found, how = match_reference(moved, Reference.from_frame(data, wcs, frame_id=1))
    assert how["method"] == "star pattern" and how["matched"] >= 10
    assert found.sip is not None
    assert worst_error_px(found, truth) < 0.5
