"""Differential photometry on simulated frames, BJD_TDB, and the AAVSO Extended File Format."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.io import fits
from astropy.time import Time

from master.science.photometry import (
    AAVSO_COLUMNS, PhotometryError, Star, bjd_tdb, differential_photometry, format_aavso_extended, frame_times,
    measure_files, measure_frame, parse_aavso_extended,
)
from node_telescope.simulator import SimulatedCamera

RA0, DEC0 = 150.0, 55.0
SITE = (48.0, 2.0, 100.0)
START = datetime(2024, 3, 1, 21, 0)
EXPTIME = 30.0
N_FRAMES = 16


def camera() -> SimulatedCamera:
    return SimulatedCamera(width=500, height=400, focal_length_mm=600, seeing_fwhm_arcsec=4.0, gain_e_per_adu=4.0,
                           zero_point_mag=24.0)


def injected_factor(i: int) -> float:
    """Flux of the variable star relative to its catalogue flux on frame i (extra light is added)."""
    return 1.1 + 0.1 * math.sin(2 * math.pi * i / N_FRAMES)


def add_star(data: np.ndarray, x: float, y: float, electrons: float, cam: SimulatedCamera, rng) -> None:
    """Add a Gaussian star (Poisson electrons, converted to ADU) centred on (x, y)."""
    sigma = cam.fwhm_px / (2 * math.sqrt(2 * math.log(2)))
    yy, xx = np.mgrid[: data.shape[0], : data.shape[1]]
    profile = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    profile /= profile.sum()
    data += rng.poisson(electrons * profile) / cam.gain_e_per_adu


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("phot")
    cam = camera()
    stars = cam.stars_on_frame(RA0, DEC0, EXPTIME, "L")
    order = np.argsort(stars["mag"])
    pick = lambda k, name: Star(name, float(stars["ra"][order[k]]), float(stars["dec"][order[k]]),  # noqa: E731
                                float(stars["mag"][order[k]]))
    target, comps, check = pick(2, "VAR"), [pick(1, "C1"), pick(3, "C2"), pick(4, "C3")], pick(5, "CHK")
    rng = np.random.default_rng(7)
    paths = []
    for i in range(N_FRAMES):
        when = START + timedelta(minutes=5 * i)
        hdul = cam.capture(RA0, DEC0, EXPTIME, "L", "light", when, site=SITE, rng_seed=100 + i)
        header = hdul[0].header
        data = hdul[0].data.astype(np.float64) - cam.bias_level_adu  # a "calibrated" frame
        on = cam.stars_on_frame(RA0, DEC0, EXPTIME, "L", airmass=header["AIRMASS"])
        k = int(np.argmin(np.hypot(on["ra"] - target.ra, on["dec"] - target.dec)))
        add_star(data, on["x"][k], on["y"][k], (injected_factor(i) - 1.0) * on["electrons"][k], cam, rng)
        out = fits.PrimaryHDU(data=data.astype(np.float32), header=header)
        path = tmp / f"light_{i:02d}.fits"
        out.writeto(path)
        paths.append(path)
    return dict(paths=paths, target=target, comps=comps, check=check, cam=cam)


def test_recovers_injected_light_curve(field):
    stars = [field["target"], *field["comps"], field["check"]]
    frames, errors = measure_files(field["paths"], stars, site=SITE)
    assert errors == []
    assert abs(frames[0].fwhm - field["cam"].fwhm_px) < 0.3
    curve = differential_photometry(frames, field["target"], field["comps"], field["check"])
    assert curve.standardized and all(p.good for p in curve.points)
    mags = np.array([p.mag for p in curve.points])
    errs = np.array([p.mag_err for p in curve.points])
    expected = field["target"].mag - 2.5 * np.log10([injected_factor(i) for i in range(N_FRAMES)])
    # the zero point of the ensemble carries the comparisons' aperture losses equally: compare shapes
    resid = (mags - expected) - np.median(mags - expected)
    assert np.all(np.abs(resid) < 4 * errs + 0.002), resid / errs
    chi2 = np.mean((resid / errs) ** 2)
    assert 0.2 < chi2 < 3.0
    assert abs(np.median(mags - expected)) < 0.05
    # errors from the CCD equation are of the right size: the check star scatters by about its error
    check = np.array([p.check_mag for p in curve.points])
    check_err = np.array([p.check_err for p in curve.points])
    assert 0.3 < np.std(check) / np.median(check_err) < 2.0
    # relative flux follows the injected factor
    rel = np.array([p.rel_flux for p in curve.points])
    factor = np.array([injected_factor(i) for i in range(N_FRAMES)])
    np.testing.assert_allclose(rel / np.median(rel / factor), factor, rtol=0.01)


def test_check_star_outlier_is_flagged(field):
    stars = [field["target"], *field["comps"], field["check"]]
    frames, _ = measure_files(field["paths"][:8], stars, site=SITE)
    frames[3].stars["CHK"].flux *= 0.7  # a passing cloud on the check star only, say
    curve = differential_photometry(frames, field["target"], field["comps"], field["check"])
    assert [i for i, p in enumerate(curve.points) if not p.good] == [3]
    assert curve.points[3].flags == ["check_outlier"]


def test_missing_star_and_pixel_positions(field):
    header, data = fits.getheader(field["paths"][0]), fits.getdata(field["paths"][0])
    from astropy.wcs import WCS

    x, y = WCS(header).all_world2pix([[field["target"].ra, field["target"].dec]], 0)[0]
    off = Star("OFF", ra=RA0 + 5.0, dec=DEC0)
    by_pixel = Star("PIX", x=float(x) + 1.0, y=float(y) - 1.0)  # the centroid finds the star
    frame = measure_frame(data, header, [field["target"], by_pixel, off], site=SITE)
    assert frame.stars["OFF"].flags == ["off_frame"]
    assert abs(frame.stars["PIX"].x - frame.stars["VAR"].x) < 0.05
    assert frame.stars["PIX"].flux == pytest.approx(frame.stars["VAR"].flux, rel=1e-3)
    curve = differential_photometry([frame], field["target"], [off])
    assert curve.points[0].flags == ["comp OFF:off_frame", "no comparison"]


def test_bjd_against_astropy_directly():
    # HD 189733 from La Silla, 2010-01-01 00:00 UTC: computed here independently of the module's code
    loc = EarthLocation.from_geodetic(lon=-70.73 * u.deg, lat=-29.26 * u.deg, height=2400 * u.m)
    target = SkyCoord("20h00m43.71s +22d42m39.1s", frame="icrs")
    t = Time("2010-01-01T00:00:00", scale="utc", location=loc)
    reference = (t.tdb + t.light_travel_time(target, "barycentric")).jd
    got = bjd_tdb(t.jd, target.ra.deg, target.dec.deg, loc)
    assert abs(float(got) - reference) * 86400 < 1e-3
    # and it is the right size: TDB-UTC is 66.184 s in 2010 and the light time is at most ~8.3 min
    delta_s = (reference - t.jd) * 86400
    assert 66.184 - 500 < delta_s < 66.184 + 500
    assert abs((t.tdb.jd - t.jd) * 86400 - 66.184) < 0.01


def test_frame_times_mid_exposure_and_site():
    header = fits.Header({"DATE-OBS": "2024-03-01T21:00:00.000", "EXPTIME": 120.0, "SITELAT": 48.0,
                          "SITELONG": 2.0, "SITEELEV": 100.0})
    jd, hjd, bjd, airmass = frame_times(header, RA0, DEC0)
    assert jd == pytest.approx(Time("2024-03-01T21:01:00", scale="utc").jd, abs=1e-9)
    loc = EarthLocation.from_geodetic(lon=2 * u.deg, lat=48 * u.deg, height=100 * u.m)
    assert bjd == pytest.approx(float(bjd_tdb(jd, RA0, DEC0, loc)), abs=1e-9)
    assert abs(hjd - jd) * 86400 < 510
    # airmass from AltAz agrees with the simulator's (Kasten & Young) to a few per cent
    cam_header = camera().capture(RA0, DEC0, 1.0, "L", "light", datetime(2024, 3, 1, 21, 1), site=SITE,
                                  rng_seed=1)[0].header
    assert airmass == pytest.approx(cam_header["AIRMASS"], rel=0.03)
    no_site = fits.Header({"DATE-OBS": "2024-03-01T21:00:00", "EXPTIME": 0.0})
    assert frame_times(no_site, RA0, DEC0) == (jd - 60 / 86400, jd - 60 / 86400, jd - 60 / 86400, None)


def test_aavso_extended_round_trip(field):
    stars = [field["target"], *field["comps"], field["check"]]
    frames, _ = measure_files(field["paths"][:5], stars, site=SITE)
    curve = differential_photometry(frames, field["target"], field["comps"], field["check"])
    text = format_aavso_extended(curve, obscode="XOBS", software="OBSY 0.1.0", date_type="BJD", filter_name="CV",
                                 star_id="V0001 Tst", chart="X12345")
    lines = text.splitlines()
    assert lines[:7] == ["#TYPE=EXTENDED", "#OBSCODE=XOBS", "#SOFTWARE=OBSY 0.1.0", "#DELIM=,", "#DATE=BJD",
                         "#OBSTYPE=CCD", "#" + ",".join(AAVSO_COLUMNS)]
    params, rows = parse_aavso_extended(text)
    assert params["TYPE"] == "EXTENDED" and params["DATE"] == "BJD"
    assert len(rows) == 5
    for row, point in zip(rows, curve.points):
        assert row["STARID"] == "V0001 Tst"
        assert float(row["DATE"]) == pytest.approx(point.frame.bjd_tdb, abs=1e-6)
        assert float(row["MAG"]) == pytest.approx(point.mag, abs=1e-4)
        assert float(row["MERR"]) == pytest.approx(point.mag_err, abs=1e-4)
        assert (row["FILT"], row["TRANS"], row["MTYPE"], row["CNAME"], row["CMAG"]) == (
            "CV", "NO", "STD", "ENSEMBLE", "na")
        assert row["KNAME"] == "CHK" and float(row["KMAG"]) == pytest.approx(point.check_mag, abs=1e-4)
        assert float(row["AMASS"]) == pytest.approx(point.frame.airmass, abs=1e-4)
        assert row["CHART"] == "X12345" and row["GROUP"] == "na"
        assert row["NOTES"] == "ENSEMBLE of C1 C2 C3"
    single = differential_photometry(frames, field["target"], [Star("C1", field["comps"][0].ra,
                                                                    field["comps"][0].dec)])
    params, rows = parse_aavso_extended(format_aavso_extended(single, obscode="XOBS", date_type="JD", delim=";"))
    assert params["DELIM"] == ";" and rows[0]["MTYPE"] == "DIF" and rows[0]["CNAME"] == "C1"
    assert float(rows[0]["CMAG"]) == pytest.approx(single.points[0].comp_mag, abs=1e-4)
    assert float(rows[0]["DATE"]) == pytest.approx(frames[0].jd_utc, abs=1e-6)
    with pytest.raises(ValueError):
        parse_aavso_extended("#DELIM=,\nA,B\n")


def test_cli_photometry(field, tmp_path):
    from click.testing import CliRunner

    from master.science.cli import science_group

    t, (c1, c2, _), k = field["target"], field["comps"], field["check"]
    out = tmp_path / "report.txt"
    args = ["photometry", *map(str, field["paths"][:4]), "--target", t.ra, t.dec, "--target-name", "V0001 Tst",
            "--comp", c1.ra, c1.dec, "--comp", c2.ra, c2.dec, "--comp-mag", c1.mag, "--comp-mag", c2.mag,
            "--check", k.ra, k.dec, "--obscode", "XOBS", "--date-type", "BJD", "--filter", "CV", "--out", out]
    missing = tmp_path / "missing.fits"
    missing.write_text("not fits")
    result = CliRunner().invoke(science_group, [str(a) for a in args] + [str(missing)])
    assert result.exit_code == 0, result.output
    assert "4 observations written" in result.output and "rejected" in result.output
    params, rows = parse_aavso_extended(out.read_text())
    assert params["OBSCODE"] == "XOBS" and params["DATE"] == "BJD" and params["SOFTWARE"].startswith("OBSY")
    assert [r["STARID"] for r in rows] == ["V0001 Tst"] * 4
    assert all(r["MTYPE"] == "STD" and r["KNAME"] == "CHECK" for r in rows)
    mags = np.array([float(r["MAG"]) for r in rows])
    expected = t.mag - 2.5 * np.log10([injected_factor(i) for i in range(4)])
    assert np.all(np.abs(mags - expected) < 0.05)
    result = CliRunner().invoke(science_group, [str(a) for a in args[:-2]] + ["--comp-mag", "12", "--out", str(out)])
    assert result.exit_code != 0
    # the same comparisons from a catalogue file, RA in hours
    catalogue = tmp_path / "comps.csv"
    hms = lambda deg: "{:02d}:{:02d}:{:07.4f}".format(int(deg / 15), int(deg / 15 * 60 % 60), deg / 15 * 3600 % 60)  # noqa: E731
    catalogue.write_text(f"name,ra,dec,v\nA,{hms(c1.ra)},{c1.dec},{c1.mag}\nB,{hms(c2.ra)},{c2.dec},{c2.mag}\n")
    from_file = ["photometry", *map(str, field["paths"][:4]), "--target", t.ra, t.dec, "--comp-file", catalogue,
                 "--date-type", "BJD", "--out", tmp_path / "from-file.txt"]
    result = CliRunner().invoke(science_group, [str(a) for a in from_file])
    assert result.exit_code == 0, result.output
    file_mags = np.array([float(r["MAG"]) for r in parse_aavso_extended((tmp_path / "from-file.txt").read_text())[1]])
    assert np.all(np.abs(file_mags - mags) < 0.002)
    catalogue.write_text("name,ra,dec\nA,1,2\n")
    result = CliRunner().invoke(science_group, [str(a) for a in from_file])
    assert result.exit_code != 0 and "no magnitude column" in result.output


def test_header_variants_and_refusals(field):
    jd = Time("2024-03-01T21:00:30", scale="utc").jd
    sexagesimal = fits.Header({"MJD-OBS": jd - 2400000.5, "EXPTIME": 60.0, "SITELAT": "+48:00:00",
                               "SITELONG": "-02 30 00", "AIRMASS": 1.25})
    got = frame_times(sexagesimal, RA0, DEC0)
    loc = EarthLocation.from_geodetic(lon=-2.5 * u.deg, lat=48 * u.deg)
    assert got[0] == pytest.approx(jd + 30 / 86400, abs=1e-9) and got[3] == 1.25
    assert got[2] == pytest.approx(float(bjd_tdb(got[0], RA0, DEC0, loc)), abs=1e-9)
    assert frame_times(fits.Header({"JD": jd}), RA0, DEC0)[0] == jd
    with pytest.raises(PhotometryError, match="DATE-OBS"):
        frame_times(fits.Header(), RA0, DEC0)
    header, data = fits.getheader(field["paths"][0]), fits.getdata(field["paths"][0])
    bare = fits.Header({"DATE-OBS": header["DATE-OBS"]})
    with pytest.raises(PhotometryError, match="no celestial WCS"):
        measure_frame(data, bare, [field["target"]])
    with pytest.raises(PhotometryError, match="neither RA/Dec"):
        measure_frame(data, header, [Star("NOPOS")])
    with pytest.raises(PhotometryError, match="falls on the frame"):
        measure_frame(data, header, [Star("OFF", ra=RA0 + 5.0, dec=DEC0)])
    # saturation from the header, and a comparison that saturates is left out of the ensemble
    header["SATURATE"] = 1000.0
    frame = measure_frame(data, header, [field["target"], *field["comps"]], site=SITE)
    assert "saturated" in frame.stars["C1"].flags
    curve = differential_photometry([frame], field["target"], field["comps"])
    assert "comp C1:saturated" in curve.points[0].flags and not curve.points[0].good
    text = format_aavso_extended(curve, obscode="X", include_flagged=True)
    assert "FLAGS " in parse_aavso_extended(text)[1][0]["NOTES"]
    assert format_aavso_extended(curve, obscode="X").count("\n") == 7  # header only
    assert len(curve.arrays()["mag"]) == 0 and len(curve.arrays(good_only=False)["mag"]) == 1
    with pytest.raises(ValueError):
        format_aavso_extended(curve, obscode="X", date_type="MJD")
    with pytest.raises(ValueError):
        differential_photometry([frame], field["target"], [])


@pytest.mark.filterwarnings("ignore")
def test_dates_past_the_bundled_iers_tables_work_offline():
    loc = EarthLocation.from_geodetic(lon=2 * u.deg, lat=48 * u.deg, height=100 * u.m)
    jd = 2462500.5  # 2030: beyond the IERS tables astropy ships; no download is attempted
    assert 0 < (float(bjd_tdb(jd, RA0, DEC0, loc)) - jd) * 86400 < 69.184 + 500
    header = fits.Header({"DATE-OBS": "2030-05-01T22:00:00", "SITELAT": 48.0, "SITELONG": 2.0})
    assert frame_times(header, RA0, DEC0)[3] > 1.0


def test_fwhm_is_fitted_on_the_brightest_unsaturated_stars():
    from master.science.photometry import FWHM_STARS, _fwhm_stars

    data = np.zeros((50, 50))
    xy = np.array([[10.0 + 2 * i, 25.0] for i in range(FWHM_STARS + 3)])
    for i, (x, y) in enumerate(xy):
        data[int(y), int(x)] = 100.0 + i  # the last stars are the brightest
    data[25, int(xy[-1, 0])] = 70_000.0  # ... and the very last one is saturated
    ok = np.ones(len(xy), bool)
    ok[-2] = False  # too near an edge, say
    chosen = _fwhm_stars(data, xy, ok, saturation=65_000.0)
    assert len(chosen) == FWHM_STARS
    assert chosen[0].tolist() == xy[-3].tolist() and xy[-1].tolist() not in chosen.tolist()
    assert xy[-2].tolist() not in chosen.tolist()
