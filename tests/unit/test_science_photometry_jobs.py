"""Photometry runs as jobs over the repository's frames: light curve products with provenance."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import select

from common.contracts import InvalidMessage, PhotometryJob
from master.ingest.local import ingest_paths
from master.models import Frame, PhotometryRun, Product, ProductInput
from master.science.lightcurve_csv import parse_lightcurve_csv
from master.science.photometry import parse_aavso_extended
from master.science.photometry_job import run_photometry_job
from master.science.products import products_of_run
from tests.unit.science_frames import write_frames
from tests.unit.test_web_support import make_services

N = 12


def factor(i: int) -> float:
    return 1.1 + 0.1 * math.sin(2 * math.pi * i / N)


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phot-frames")
    paths, target, comps, _ = write_frames(folder, [factor(i) for i in range(N)])
    return paths, target, comps


@pytest.fixture
def services(tmp_path, monkeypatch, field):
    services = make_services(tmp_path, monkeypatch)
    rows = list(ingest_paths(services, field[0]))
    assert [r["status"] for r in rows] == ["ingested"] * N
    yield services
    services.close()


def add_run(services, target, comps=None, chart=None, **fields) -> int:
    with services.sessions() as session:
        run = PhotometryRun(target_name="VAR FIELD", ra_deg=target.ra, dec_deg=target.dec,
                            comparisons=[{"name": c.name, "ra": c.ra, "dec": c.dec, "mag": c.mag, "chart": chart}
                                         for c in comps]
                            if comps else None, **fields)
        session.add(run)
        session.commit()
        return run.id


def shape(values: np.ndarray) -> np.ndarray:
    return values - np.median(values)


@pytest.mark.parametrize("automatic", [False, True])
def test_run_makes_the_light_curve_products_from_the_frames(services, field, automatic):
    _, target, comps = field
    run_id = add_run(services, target, None if automatic else comps, chart=None if automatic else "X00001TST")
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        assert (run.state, run.frames_used, run.frames_rejected) == ("done", N, [])
        products = {p.kind: p for p in products_of_run(session, run_id)}
        assert set(products) == {"lightcurve_csv", "aavso_extended"}
        frame_ids = {f.id for f in session.scalars(select(Frame))}
        for product in products.values():
            linked = {i.frame_id for i in product.inputs}
            assert linked == frame_ids and all(i.ser_capture_id is None for i in product.inputs)
            assert product.parameters["automatic"] is automatic
            assert product.parameters["aperture_fwhm"] == 1.75
        csv_key, report_key = products["lightcurve_csv"].key, products["aavso_extended"].key
        n_comps = len(products["lightcurve_csv"].parameters["comparisons"])
    rows = parse_lightcurve_csv(services.store.get_bytes(csv_key).decode())
    assert len(rows) == N and all(r["good"] for r in rows)
    assert [r["bjd_tdb"] for r in rows] == sorted(r["bjd_tdb"] for r in rows)
    expected = -2.5 * np.log10([factor(i) for i in range(N)])
    mags = np.array([r["mag"] for r in rows])
    errs = np.array([r["mag_err"] for r in rows])
    assert np.all(np.abs(shape(mags) - shape(expected)) < 4 * errs + 0.003)
    fields, data = parse_aavso_extended(services.store.get_bytes(report_key).decode())
    assert fields["DATE"] == "BJD" and len(data) == N and data[0]["STARID"] == "VAR FIELD"
    if automatic:
        assert 2 <= n_comps <= 8 and data[0]["MTYPE"] == "DIF"
    else:
        assert n_comps == 3 and data[0]["MTYPE"] == "STD" and data[0]["CNAME"] == "ENSEMBLE"
    assert data[0]["CHART"] == ("na" if automatic else "X00001TST")  # the VSP chart of the comparisons


def test_rerun_replaces_products_and_bad_frames_are_listed(services, field):
    _, target, comps = field
    run_id = add_run(services, target, comps)
    with services.sessions() as session:
        broken = session.scalars(select(Frame).order_by(Frame.id)).first()
        services.store.put_bytes(broken.key, b"not a FITS file at all")
        broken_id = broken.id
    for _ in range(2):
        assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        assert run.frames_used == N - 1 and [row[0] for row in run.frames_rejected] == [broken_id]
        assert len(session.scalars(select(Product)).all()) == 2
        assert len(session.scalars(select(ProductInput)).all()) == 2 * (N - 1)


def test_a_run_without_frames_fails_with_the_reason(services, field):
    run_id = add_run(services, field[1], field[2], filter_name="Ha")
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "failed"
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        assert run.state == "failed" and "no accepted light frames" in run.reason and run.finished_at
    with pytest.raises(InvalidMessage, match="no photometry run"):
        run_photometry_job(services, PhotometryJob(run_id=999).to_wire())
