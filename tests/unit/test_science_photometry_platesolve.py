"""Photometry runs on frames without WCS: matched to a solved frame of the target, or refused clearly."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from common.contracts import PhotometryJob
from master.ingest.local import ingest_paths
from master.models import Frame, PhotometryRun
from master.science import frame_wcs
from master.science.lightcurve_csv import parse_lightcurve_csv
from master.science.photometry_job import run_photometry_job
from master.science.platesolve import celestial_wcs, solve_field
from master.science.products import products_of_run
from tests.unit.science_frames import write_frames
from tests.unit.test_science_photometry_jobs import add_run, factor, shape
from tests.unit.test_science_platesolve import strip_wcs
from tests.unit.test_web_support import make_services

N = 3


def frames(folder, unsolved):
    folder.mkdir()
    paths, target, comps, _ = write_frames(folder, [factor(i) for i in range(N)])
    for i in unsolved:
        with fits.open(paths[i]) as hdul:
            header, data = strip_wcs(hdul[0].header), hdul[0].data.copy()
        fits.PrimaryHDU(data=data, header=header).writeto(paths[i], overwrite=True)
        assert celestial_wcs(fits.getheader(paths[i])) is None
    return paths, target, comps


@pytest.fixture
def no_index_files(tmp_path, monkeypatch):
    """Whatever this machine has installed, astrometry.net finds no index files here."""
    monkeypatch.setattr(frame_wcs, "solve_field", functools.partial(solve_field, index_dirs=(str(tmp_path / "none"),)))


def ingest(tmp_path, monkeypatch, paths):
    services = make_services(tmp_path, monkeypatch)
    assert [r["status"] for r in ingest_paths(services, paths)] == ["ingested"] * len(paths)
    return services


def measure(services, target, comps):
    """Run photometry on every ingested frame: (frame ids by time, how each was solved, light curve rows)."""
    run_id = add_run(services, target, comps)
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        assert run.frames_used == N, run.frames_rejected
        ids = session.scalars(select(Frame.id).order_by(Frame.date_obs)).all()
        csv = next(p for p in products_of_run(session, run_id) if p.kind == "lightcurve_csv")
        solved = csv.parameters["plate_solved"]
    rows = parse_lightcurve_csv(services.store.get_bytes(csv.key).decode())
    mags, errs = np.array([r["mag"] for r in rows]), np.array([r["mag_err"] for r in rows])
    expected = -2.5 * np.log10([factor(i) for i in range(N)])
    assert np.all(np.abs(shape(mags) - shape(expected)) < 4 * errs + 0.003)
    return ids, solved


def test_frames_without_wcs_are_matched_to_a_solved_frame(tmp_path, monkeypatch, no_index_files):
    # the first frames have no WCS: the reference is found in the repository, not just earlier in the run
    paths, target, comps = frames(tmp_path / "frames", unsolved=[0, 1])  # frame 2 is the only solved one
    services = ingest(tmp_path, monkeypatch, paths)
    ids, solved = measure(services, target, comps)
    assert set(solved) == {str(ids[i]) for i in (0, 1)}
    assert all(s["method"] == "star pattern" and s["reference_frame"] == ids[2] and s["rms_px"] < 0.3
               for s in solved.values())
    services.close()


def test_no_solved_frame_and_no_index_files_is_said(tmp_path, monkeypatch, no_index_files):
    paths, target, comps = frames(tmp_path / "frames", unsolved=range(2))
    services = ingest(tmp_path, monkeypatch, paths[:2])
    run_id = add_run(services, target, comps)
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "failed"
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        assert run.reason == "no frame could be measured" and len(run.frames_rejected) == 2
        for _, reason in run.frames_rejected:
            assert "no solved frame of 'VAR FIELD'" in reason and "no index files" in reason
    services.close()


def test_a_target_with_no_solved_frame_is_solved_by_astrometry_net(tmp_path, monkeypatch):
    # no frame has a WCS: solve-field (with an index of the simulator's sky) solves the first, the
    # others are matched to that solution
    from node_telescope.simulator.sky import stars_in_field
    from tests.astrometry_index import build_index
    from tests.unit.science_frames import DEC0, RA0

    index = build_index(tmp_path / "index", *stars_in_field(RA0, DEC0, 0.5, 18.5))
    monkeypatch.setattr(frame_wcs, "solve_field", functools.partial(solve_field, index_dirs=(str(index),)))
    paths, target, comps = frames(tmp_path / "frames", unsolved=range(N))
    services = ingest(tmp_path, monkeypatch, paths)
    ids, solved = measure(services, target, comps)
    methods = sorted(s["method"] for s in solved.values())
    assert set(solved) == {str(i) for i in ids} and methods == ["astrometry.net"] + ["star pattern"] * (N - 1)
    services.close()
