"""End to end: frames with an injected transit → ingest → photometry job → ``obsy science transit``."""
from __future__ import annotations

import re

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import EarthLocation
from astropy.time import Time
from click.testing import CliRunner

from common.contracts import PhotometryJob
from master.ingest.local import ingest_paths
from master.models import PhotometryRun
from master.science.cli import science_group
from master.science.photometry import bjd_tdb
from master.science.photometry_job import run_photometry_job
from master.science.products import products_of_run
from master.science.transit import parse_exotic_report, transit_model
from tests.unit.science_frames import SITE, write_frames
from tests.unit.test_web_support import make_services

PERIOD, RP, A, INC = 2.5, 0.12, 8.0, 87.5
N, CADENCE_MIN = 64, 4.5
START = Time("2024-03-01T20:00:00", scale="utc")
TC_JD = START.jd + 2.4 / 24  # mid-transit (UTC JD), 2.4 h into the series


def number(text: str, name: str) -> tuple[float, float]:
    match = re.search(rf"^{re.escape(name)}\s+([-\d.]+) ± ([\d.]+)", text, re.M)
    assert match, text
    return float(match.group(1)), float(match.group(2))


@pytest.fixture(scope="module")
def light_curve_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transit-frames")
    mid_jd = START.jd + (np.arange(N) * CADENCE_MIN * 60 + 15.0) / 86400  # 30 s exposures
    factors = transit_model(mid_jd, TC_JD, RP, A, INC, PERIOD, (0.4, 0.2))
    paths, target, comps, _ = write_frames(folder, factors, start=START.to_datetime(), cadence_min=CADENCE_MIN,
                                           object_name="HAT-P-X")
    mp = pytest.MonkeyPatch()
    services = make_services(folder, mp)
    try:
        assert {r["status"] for r in ingest_paths(services, paths)} == {"ingested"}
        with services.sessions() as session:
            run = PhotometryRun(target_name="HAT-P-X", ra_deg=target.ra, dec_deg=target.dec,
                                comparisons=[{"name": c.name, "ra": c.ra, "dec": c.dec} for c in comps])
            session.add(run)
            session.commit()
            run_id = run.id
        assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
        with services.sessions() as session:
            [csv_product] = [p for p in products_of_run(session, run_id) if p.kind == "lightcurve_csv"]
        out = folder / "lightcurve.csv"
        out.write_bytes(services.store.get_bytes(csv_product.key))
    finally:
        services.close()
        mp.undo()
    return out, target


def test_transit_fit_recovers_mid_time_and_depth(light_curve_csv, tmp_path):
    path, target = light_curve_csv
    location = EarthLocation.from_geodetic(lon=SITE[1] * u.deg, lat=SITE[0] * u.deg, height=SITE[2] * u.m)
    tc_true = float(bjd_tdb(TC_JD, target.ra, target.dec, location))
    report = tmp_path / "report.txt"
    result = CliRunner().invoke(science_group, [
        "transit", str(path), "--period", str(PERIOD), "--t0", f"{tc_true + 0.01:.6f}", "--a", "9", "--inc", "88",
        "--star", "HAT-P-X", "--planet", "HAT-P-X b", "--obscode", "OBSY", "--report", str(report)])
    assert result.exit_code == 0, result.output
    tc, tc_err = number(result.output, "Tc")
    depth, depth_err = number(result.output, "depth")
    assert 0 < tc_err < 0.005 and abs(tc - tc_true) < 3 * tc_err, (tc - tc_true, tc_err)
    assert 0 < depth_err < 0.004 and abs(depth - RP**2) < 3 * depth_err, (depth, depth_err)
    fields, data = parse_exotic_report(report.read_text())
    assert fields["STAR_NAME"] == "HAT-P-X" and fields["DATE_TYPE"] == "BJD_TDB" and len(data) == N
    assert fields["RESULTS"].startswith(f"Tc={tc:.5f}")


def test_transit_cli_refuses_what_is_not_a_light_curve(tmp_path):
    bad = tmp_path / "short.csv"
    bad.write_text("bjd_tdb,rel_flux,rel_flux_err,good\n2460000.5,1.0,0.01,1\n")
    result = CliRunner().invoke(science_group, ["transit", str(bad), "--period", "2.5", "--t0", "2460000.5"])
    assert result.exit_code != 0 and "needs at least 10" in result.output
