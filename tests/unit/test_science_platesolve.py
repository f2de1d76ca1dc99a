"""Plate solving: star-pattern matching against a solved frame, and astrometry.net's clear refusals."""
from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest
from astropy.io import fits

from master.science.platesolve import PlateSolveError, Reference, celestial_wcs, match_reference, solve_field
from tests.unit.test_science_photometry import camera

RA0, DEC0 = 150.0, 55.0
WHEN = datetime(2024, 3, 1, 22, 0)


def capture(cam, ra, dec, seed):
    hdul = cam.capture(ra, dec, 30.0, "L", "light", WHEN, site=(48.0, 2.0, 100.0), rng_seed=seed,
                       object_name="VAR FIELD")
    return hdul[0].header, hdul[0].data.astype(np.float32)


WCS_KEYS = ("WCSAXES", "CTYPE", "CUNIT", "CRPIX", "CRVAL", "CDELT", "CROTA", "CD1_", "CD2_", "PC1_", "PC2_",
            "LONPOLE", "LATPOLE", "RADESYS", "EQUINOX", "A_", "B_", "AP_", "BP_")


def strip_wcs(header):
    """The header without its WCS (times, pointing and everything else kept)."""
    bare = header.copy()
    for key in [k for k in bare.keys() if k.startswith(WCS_KEYS)]:
        bare.remove(key, ignore_missing=True, remove_all=True)
    return bare


@pytest.mark.parametrize("rotation, shift", [(0.0, (0.0, 0.0)), (7.0, (0.05, -0.03))])
def test_star_pattern_match_recovers_the_true_wcs(rotation, shift):
    cam = camera()
    ref_header, ref_data = capture(cam, RA0, DEC0, 1)
    moved = dataclasses.replace(cam, rotation_deg=rotation)
    true_header, data = capture(moved, RA0 + shift[0], DEC0 + shift[1], 2)
    truth = celestial_wcs(true_header)
    bare = strip_wcs(true_header)
    assert celestial_wcs(bare) is None  # nothing of the answer is left on the frame
    reference = Reference.from_frame(ref_data, celestial_wcs(ref_header), frame_id=7)
    wcs, how = match_reference(data, reference)
    assert how["method"] == "star pattern" and how["reference_frame"] == 7 and how["matched"] >= 10
    # a frame near the reference is paired directly; a rotated one needs the asterism search
    assert how["matcher"] == ("near the last match" if rotation == 0 else "asterisms")
    assert how["rms_px"] < 0.2
    # every part of the frame lands where the true WCS says, within a fraction of a pixel
    yy, xx = np.mgrid[0:data.shape[0]:50, 0:data.shape[1]:50]
    pixels = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    back = truth.all_world2pix(wcs.all_pix2world(pixels, 0), 0)
    assert np.max(np.hypot(*(back - pixels).T)) < 0.25
    again, how = match_reference(data, reference)  # the next frame of the series starts from this match
    assert how["matcher"] == "near the last match" and np.allclose(again.wcs.cd, wcs.wcs.cd, rtol=1e-3, atol=1e-9)


def test_a_different_field_does_not_match():
    cam = camera()
    _, ref_data = capture(cam, RA0, DEC0, 1)
    ref_header, _ = capture(cam, RA0, DEC0, 1)
    _, elsewhere = capture(cam, RA0 + 3.0, DEC0 - 2.0, 3)
    with pytest.raises(PlateSolveError, match="does not match|too few stars"):
        match_reference(elsewhere, Reference.from_frame(ref_data, celestial_wcs(ref_header)))


def test_solve_field_without_index_files_or_program_says_so(tmp_path):
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(np.zeros((20, 20), np.float32)).writeto(path)
    with pytest.raises(PlateSolveError, match="no index files"):
        solve_field(path, index_dirs=(str(tmp_path / "empty"),))
    with pytest.raises(PlateSolveError, match="not installed"):
        solve_field(path, program="no-such-solve-field")
