"""The telescope node's simulated camera and its synthetic sky."""

from __future__ import annotations

import hashlib
import io
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import sep
from astropy.io import fits
from astropy.wcs import WCS

from node_telescope.simulator import SimulatedCamera, stars_in_field, to_bytes
from node_telescope.simulator.camera import airmass_from_altitude, format_dec, format_ra

WHEN = datetime(2024, 3, 1, 22, 0, 0, 123000)
SITE = (48.1, 11.6, 520.0)
RA0, DEC0 = 150.0, 55.0  # near the zenith at WHEN from SITE, far from the fake galactic plane


@pytest.fixture(scope="module")
def cam() -> SimulatedCamera:
    # 4" seeing: well sampled at 1.46"/px, so the FWHM measurement is not dominated by pixelisation
    return SimulatedCamera(seeing_fwhm_arcsec=4.0)


@pytest.fixture(scope="module")
def light(cam):
    return cam.capture(RA0, DEC0, 60.0, "L", "light", WHEN, object_name="Field A", site=SITE, rng_seed=7)


def _detect(data: np.ndarray, thresh: float = 5.0):
    """sep detections, without the sensor's hot pixels (single sharp pixels, as on any uncalibrated light)."""
    d = data.astype(np.float32)
    bkg = sep.Background(d)
    sub = d - bkg
    obj = sep.extract(sub, thresh, err=bkg.globalrms)
    return sub, bkg, obj[obj["flux"] > 2.0 * obj["peak"]]


def _nearest(x, y, cx, cy):
    d2 = (np.asarray(x)[:, None] - cx[None, :]) ** 2 + (np.asarray(y)[:, None] - cy[None, :]) ** 2
    j = d2.argmin(axis=1)
    return j, np.sqrt(d2[np.arange(len(j)), j])


# ------------------------------------------------------------------- sky


def test_catalogue_is_deterministic_and_depth_consistent():
    a = stars_in_field(RA0, DEC0, 1.0, 14.0)
    b = stars_in_field(RA0, DEC0, 1.0, 14.0)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    deep = stars_in_field(RA0, DEC0, 1.0, 18.0)
    bright = deep[2] <= 14.0
    # a shallow query is exactly the bright part of a deep one
    np.testing.assert_array_equal(np.sort(a[0]), np.sort(deep[0][bright]))
    assert len(deep[0]) > 5 * len(a[0]) > 0
    assert np.all(np.diff(deep[2]) >= 0)  # brightest first
    # a smaller field centred elsewhere sees the same stars where they overlap
    sub = stars_in_field(RA0 + 0.5, DEC0, 0.3, 18.0)
    key = set(zip(deep[0].round(9), deep[1].round(9)))
    assert all((r, d) in key for r, d in zip(sub[0].round(9), sub[1].round(9)))


def test_catalogue_counts_rise_with_magnitude_and_toward_the_plane():
    ra, dec, mag = stars_in_field(RA0, DEC0, 1.0, 18.0)
    n15, n17 = (mag <= 15).sum(), (mag <= 17).sum()
    assert 2.5 < n17 / n15 < 6.5  # ~10**(0.3 * 2)
    plane = stars_in_field(266.4, -29.0, 1.0, 18.0)  # galactic centre
    assert len(plane[0]) > 3 * len(ra)
    # every star is within the radius, even across RA 0 and at the pole
    for ra0, dec0 in ((0.2, 10.0), (359.9, -30.0), (0.0, 89.7)):
        r, d, _ = stars_in_field(ra0, dec0, 0.8, 16.0)
        sep_deg = np.degrees(np.arccos(np.clip(
            np.sin(np.radians(d)) * math.sin(math.radians(dec0))
            + np.cos(np.radians(d)) * math.cos(math.radians(dec0)) * np.cos(np.radians(r - ra0)), -1, 1)))
        assert len(r) > 0 and sep_deg.max() <= 0.8 + 1e-9


# ------------------------------------------------------------------- light frames


def test_same_pointing_and_seed_give_identical_frames(cam, light):
    again = cam.capture(RA0, DEC0, 60.0, "L", "light", WHEN, object_name="Field A", site=SITE, rng_seed=7)
    np.testing.assert_array_equal(light[0].data, again[0].data)
    # byte-identical files: the same frame always has the same sha256
    assert hashlib.sha256(to_bytes(light)).digest() == hashlib.sha256(to_bytes(again)).digest()
    # an equal camera built separately gives the same frame too
    other = SimulatedCamera(seeing_fwhm_arcsec=4.0).capture(
        RA0, DEC0, 60.0, "L", "light", WHEN, object_name="Field A", site=SITE, rng_seed=7)
    np.testing.assert_array_equal(light[0].data, other[0].data)
    different = cam.capture(RA0, DEC0, 60.0, "L", "light", WHEN, site=SITE, rng_seed=8)
    assert not np.array_equal(light[0].data, different[0].data)


def test_sep_finds_the_catalogue_stars_with_the_right_fwhm(cam, light):
    data = light[0].data
    sub, bkg, obj = _detect(data)
    st = cam.stars_on_frame(RA0, DEC0, 60.0, "L", airmass=light[0].header.get("AIRMASS"))
    j, dist = _nearest(obj["x"], obj["y"], st["x"], st["y"])
    matched = dist < 1.0
    # detections are catalogue stars, at the positions the WCS predicts
    assert matched.sum() >= 0.95 * len(obj)
    assert np.median(dist[matched]) < 0.2
    # and the clearly detectable catalogue stars are all found
    peak_e = st["electrons"] / (2 * math.pi * (cam.fwhm_px / 2.3548) ** 2)
    edge = 5
    inside = (st["x"] > edge) & (st["x"] < cam.width - 1 - edge) & (st["y"] > edge) & (st["y"] < cam.height - 1 - edge)
    strong = inside & (peak_e > 20 * bkg.globalrms)
    assert strong.sum() >= 20
    found = np.zeros(len(st["x"]), bool)
    found[j[matched]] = True
    assert found[strong].mean() > 0.9
    assert len(obj) < inside.sum() + 0.001 * data.size  # no flood of false detections

    good = matched & (obj["flag"] == 0) & (obj["peak"] < 30000) & (obj["peak"] > 20 * bkg.globalrms)
    assert good.sum() >= 15
    hfr, _ = sep.flux_radius(sub, obj["x"][good], obj["y"][good], np.full(good.sum(), 6 * cam.fwhm_px), 0.5,
                             subpix=5)
    fwhm = np.median(2 * hfr)  # a Gaussian's half-flux radius is half its FWHM
    expected = cam.seeing_fwhm_arcsec / cam.plate_scale_arcsec
    assert abs(fwhm / expected - 1) < 0.15
    # ... and header and frame agree on that plate scale
    assert light[0].header["SCALE"] == pytest.approx(cam.plate_scale_arcsec, rel=1e-5)


def test_moving_half_a_field_moves_the_stars(cam, light):
    fov_w, _ = cam.field_of_view_deg
    ra_b = RA0 + 0.5 * fov_w / math.cos(math.radians(DEC0))  # half a field to the east
    frame_b = cam.capture(ra_b, DEC0, 60.0, "L", "light", WHEN, rng_seed=11)
    wcs_a, wcs_b = WCS(light[0].header), WCS(frame_b[0].header)
    _, bkg_a, obj_a = _detect(light[0].data, 10.0)
    _, _, obj_b = _detect(frame_b[0].data, 5.0)
    ra, dec = wcs_a.all_pix2world(obj_a["x"], obj_a["y"], 0)
    xb, yb = wcs_b.all_world2pix(ra, dec, 0)
    margin = 10
    overlap = (xb > margin) & (xb < cam.width - 1 - margin) & (yb > margin) & (yb < cam.height - 1 - margin)
    # east is to the left: the stars of A's left half sit in B's right half, about width/2 further on
    assert overlap.sum() >= 10
    assert np.all(obj_a["x"][overlap] < cam.width / 2 + margin)
    assert np.median(xb[overlap] - obj_a["x"][overlap]) == pytest.approx(cam.width / 2, abs=3)
    # B's centre is half a field east of A's: on A's centre row, W/2 to the left
    xc, yc = wcs_a.all_world2pix([[ra_b, DEC0]], 0)[0]
    assert xc == pytest.approx((cam.width - 1) / 2 - cam.width / 2, abs=2)
    assert yc == pytest.approx((cam.height - 1) / 2, abs=10)  # RA circles curve a little off the equator
    _, dist = _nearest(xb[overlap], yb[overlap], obj_b["x"], obj_b["y"])
    assert (dist < 1.0).mean() > 0.9


def test_orientation_north_up_east_left_with_top_down_rows(cam, light):
    w = WCS(light[0].header)
    (ra_c, dec_c), (ra_up, dec_up), (ra_right, _) = w.all_pix2world([[640, 512], [640, 100], [1000, 512]], 0)
    assert dec_up > dec_c  # row 0 is the top of the image, and north
    assert (ra_right - ra_c + 180) % 360 - 180 < 0  # east (larger RA) to the left


# ------------------------------------------------------------------- header and file


def test_header_keywords_present_and_parseable(cam, light):
    h = light[0].header
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXPTIME", "PIXSIZE1", "PIXSIZE2", "XPIXSZ",
                "YPIXSZ", "XBINNING", "YBINNING", "FOCALLEN", "APTDIA", "CCD-TEMP", "SET-TEMP", "IMAGETYP",
                "FRAME", "FILTER", "GAIN", "OFFSET", "OBJECT", "OBJCTRA", "OBJCTDEC", "RA", "DEC", "DATE-OBS",
                "INSTRUME", "TELESCOP", "OBSERVER", "SITELAT", "SITELONG", "AIRMASS", "CTYPE1", "CTYPE2",
                "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2", "ROWORDER",
                "SWCREATE"):
        assert key in h, key
    assert (h["NAXIS1"], h["NAXIS2"]) == (1280, 1024)
    assert h["IMAGETYP"] == "Light Frame" and h["FRAME"] == "Light" and h["FILTER"] == "L"
    assert h["EXPTIME"] == 60.0 and h["CCD-TEMP"] == -10.0 and h["XBINNING"] == 1
    assert h["INSTRUME"] == "OBSY Simulator CCD" and h["SWCREATE"] == "OBSY simulator"
    assert h["ROWORDER"] == "TOP-DOWN" and h["CTYPE1"] == "RA---TAN" and h["CTYPE2"] == "DEC--TAN"
    assert datetime.strptime(h["DATE-OBS"], "%Y-%m-%dT%H:%M:%S.%f") == WHEN
    hh, mm, ss = (float(v) for v in h["OBJCTRA"].split())
    assert (hh + mm / 60 + ss / 3600) * 15 == pytest.approx(h["RA"], abs=0.2 / 3600)
    sign = -1 if h["OBJCTDEC"].startswith("-") else 1
    dd, dm, ds = (abs(float(v)) for v in h["OBJCTDEC"].split())
    assert sign * (dd + dm / 60 + ds / 3600) == pytest.approx(h["DEC"], abs=0.2 / 3600)
    assert (h["RA"], h["DEC"]) == (RA0, DEC0) and (h["CRVAL1"], h["CRVAL2"]) == (RA0, DEC0)
    # M 31 from Munich at 22:00 UTC on 1 Sept 2024 is about 55.9 degrees up (astropy, no refraction)
    m31 = cam.capture(10.68, 41.27, 1.0, "L", "light", datetime(2024, 9, 1, 22), site=SITE, rng_seed=1)[0].header
    assert m31["OBJCTALT"] == pytest.approx(55.92, abs=0.5)
    assert m31["AIRMASS"] == pytest.approx(1.0 / math.sin(math.radians(55.92)), abs=0.02)


def test_sexagesimal_and_airmass_helpers():
    assert format_ra(10.684708) == "00 42 44.33"
    assert format_ra(359.99999999) == "00 00 00.00"
    assert format_dec(41.26875) == "+41 16 07.5"
    assert format_dec(-0.5) == "-00 30 00.0"
    assert format_dec(-89.999999) == "-90 00 00.0"
    assert airmass_from_altitude(90.0) == pytest.approx(1.0, abs=1e-3)
    assert airmass_from_altitude(30.0) == pytest.approx(2.0, abs=0.01)
    assert airmass_from_altitude(-1.0) is None


def test_uint16_with_bzero_round_trips(light):
    raw = to_bytes(light)
    assert len(raw) % 2880 == 0
    head = raw[:2880].decode("ascii")
    cards = [head[i:i + 80] for i in range(0, 2880, 80)]
    assert cards[5].startswith("EXTEND  =") and cards[6].startswith("BSCALE  =                    1")
    assert cards[7].startswith("BZERO   =                32768")
    back = fits.open(io.BytesIO(raw))
    assert back[0].header["BITPIX"] == 16 and back[0].header["BZERO"] == 32768
    assert back[0].data.dtype == np.uint16
    np.testing.assert_array_equal(back[0].data, light[0].data)
    end = next(i for i in range(0, len(raw), 80) if raw[i:i + 80].rstrip() == b"END")
    start = (end // 2880 + 1) * 2880  # the data begin at the block after the END card
    stored = np.frombuffer(raw[start:start + 2 * 1280], dtype=">i2")  # first row as written on disk
    np.testing.assert_array_equal(stored.astype(np.int32) + 32768, light[0].data[0])
    assert light[0].data.max() <= 65535 and light[0].data.min() > 0


def test_aware_time_is_written_as_utc(cam):
    tz = timezone(timedelta(hours=2))
    h = cam.capture(None, None, 1.0, "L", "dark", datetime(2024, 9, 2, 0, 30, tzinfo=tz), rng_seed=1)[0].header
    assert h["DATE-OBS"] == "2024-09-01T22:30:00.000"
    assert "CTYPE1" not in h and "AIRMASS" not in h


# ------------------------------------------------------------------- calibration frames


def test_bias_statistics(cam):
    h = cam.capture(None, None, 0.0, "L", "bias", WHEN, rng_seed=1)[0]
    d = h.data.astype(np.float64)
    assert h.header["IMAGETYP"] == "Bias Frame" and h.header["FRAME"] == "Bias"
    assert np.median(d) == pytest.approx(cam.bias_level_adu, abs=1.5)
    assert cam.read_noise_e / cam.gain_e_per_adu <= d.std() <= 1.15 * cam.read_noise_e / cam.gain_e_per_adu


def test_dark_statistics_and_fixed_hot_pixels(cam):
    d1 = cam.capture(None, None, 300.0, "L", "dark", WHEN, rng_seed=1)[0]
    d2 = cam.capture(None, None, 300.0, "L", "dark", WHEN, rng_seed=2)[0].data.astype(np.float64)
    warm = cam.capture(None, None, 300.0, "L", "dark", WHEN, ccd_temp_c=10.0, rng_seed=3)[0].data.astype(np.float64)
    assert d1.header["IMAGETYP"] == "Dark Frame" and d1.header["FRAME"] == "Dark"
    a = d1.data.astype(np.float64)
    dark_adu = cam.dark_current_at(-10.0) * 300.0 / cam.gain_e_per_adu
    assert np.median(a) == pytest.approx(cam.bias_level_adu + dark_adu, abs=1.5)
    assert np.median(warm) > np.median(a) + 5  # more than 8x the dark current at +10 C
    hot1 = a > np.median(a) + 20 * cam.read_noise_e
    hot2 = d2 > np.median(d2) + 20 * cam.read_noise_e
    assert 5 <= hot1.sum() <= 0.001 * a.size
    assert (hot1 & hot2).sum() >= 0.9 * hot1.sum()  # hot pixels are the sensor's, not the frame's


def test_flat_statistics(cam):
    f = cam.capture(None, None, 2.0, "R", "flat", WHEN, rng_seed=1)[0]
    d = f.data.astype(np.float64)
    assert f.header["IMAGETYP"] == "Flat Frame" and f.header["FRAME"] == "Flat" and f.header["FILTER"] == "R"
    centre = np.median(d[462:562, 590:690])
    corner = np.median(d[:50, :50])
    assert centre == pytest.approx(0.5 * 65535, rel=0.05)
    assert 0.6 < (corner - cam.bias_level_adu) / (centre - cam.bias_level_adu) < 0.9  # vignetting
    assert d.max() < 65535 and d.min() > cam.bias_level_adu
    # a second flat divides the first down to shot noise (the response pattern is fixed)
    g = cam.capture(None, None, 2.0, "R", "flat", WHEN, rng_seed=2)[0].data.astype(np.float64)
    ratio = (d[462:562, 590:690] - 500) / (g[462:562, 590:690] - 500)
    assert ratio.std() < 1.5 * math.sqrt(2.0 / (centre - 500))


def test_bad_arguments_and_bit_depth():
    cam = SimulatedCamera(width=320, height=240, bit_depth=12)
    d = cam.capture(RA0, DEC0, 10.0, "L", "light", WHEN, rng_seed=1)[0].data
    assert np.all(d % 16 == 0)
    with pytest.raises(ValueError):
        cam.capture(RA0, DEC0, 1.0, "L", "science", WHEN)
    with pytest.raises(ValueError):
        cam.capture(None, None, 1.0, "L", "light", WHEN)
    with pytest.raises(ValueError):
        cam.capture(RA0, DEC0, -1.0, "L", "light", WHEN)
