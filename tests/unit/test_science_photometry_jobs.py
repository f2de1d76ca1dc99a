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
from tests.unit.test_web_support import add_user, login, make_app, make_services

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


def test_a_variable_star_in_the_automatic_ensemble_is_dropped(tmp_path, monkeypatch):
    # the brightest comparison candidate varies by ±15 %: left in, it would print its light curve
    # (inverted, and weighted as the brightest) onto the target's
    from astropy.io import fits

    from master.science.platesolve import celestial_wcs
    from tests.unit.test_science_photometry import add_star, camera

    (tmp_path / "frames").mkdir()
    paths, target, comps, _ = write_frames(tmp_path / "frames", [factor(i) for i in range(N)])
    cam, rng = camera(), np.random.default_rng(3)
    varying = comps[0]
    for i, path in enumerate(paths):
        with fits.open(path) as hdul:
            header, data = hdul[0].header, hdul[0].data.astype(np.float64)
        on = cam.stars_on_frame(varying.ra, varying.dec, 30.0, "L", airmass=header["AIRMASS"])
        k = int(np.argmin(np.hypot(on["ra"] - varying.ra, on["dec"] - varying.dec)))
        x, y = celestial_wcs(header).all_world2pix([[varying.ra, varying.dec]], 0)[0]
        add_star(data, x, y, 0.15 * (1 + math.cos(2 * math.pi * i / N)) * on["electrons"][k], cam, rng)
        fits.PrimaryHDU(data=data.astype(np.float32), header=header).writeto(path, overwrite=True)
    services = make_services(tmp_path, monkeypatch)
    assert {r["status"] for r in ingest_paths(services, paths)} == {"ingested"}
    run_id = add_run(services, target)
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    with services.sessions() as session:
        csv = next(p for p in products_of_run(session, run_id) if p.kind == "lightcurve_csv")
        dropped, kept = csv.parameters["comparisons_dropped"], csv.parameters["comparisons"]
    assert len(dropped) == 1 and len(kept) >= 2
    assert math.hypot((dropped[0]["ra"] - varying.ra) * math.cos(math.radians(varying.dec)),
                      dropped[0]["dec"] - varying.dec) < 3 / 3600
    assert dropped[0]["scatter_mag"] > 3 * dropped[0]["expected_mag"]
    rows = parse_lightcurve_csv(services.store.get_bytes(csv.key).decode())
    mags, errs = np.array([r["mag"] for r in rows]), np.array([r["mag_err"] for r in rows])
    expected = -2.5 * np.log10([factor(i) for i in range(N)])
    assert np.all(np.abs(shape(mags) - shape(expected)) < 4 * errs + 0.003)  # 0.12 mag off with the star kept
    add_user(services, "guest", role="guest")
    client = make_app(services).test_client()
    login(client, "guest")
    page = client.get(f"/photometry/{run_id}").get_data(as_text=True)
    assert "Dropped from the automatic ensemble as variable" in page and "data-comparisons-dropped" in page
    services.close()


def test_a_following_run_is_queued_again_when_a_frame_of_its_target_arrives(tmp_path, monkeypatch, field):
    from common import names
    from common.contracts import FrameIngested
    from master.library.triggers import on_frame_ingested

    paths, target, _ = field
    services = make_services(tmp_path, monkeypatch)
    assert [r["status"] for r in ingest_paths(services, paths[:-1])] == ["ingested"] * (N - 1)
    following, other = add_run(services, target, follow=True), add_run(services, target)
    for run_id in (following, other):
        assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    queue = services.job_broker.queues[names.SCIENCE_QUEUE]
    before = queue.qsize()
    assert [r["status"] for r in ingest_paths(services, paths[-1:])] == ["ingested"]
    with services.sessions() as session:
        frame = session.scalars(select(Frame).order_by(Frame.id.desc())).first()
        message = FrameIngested(frame_id=frame.id, key=frame.key, sha256=frame.sha256, accepted=frame.accepted)
    on_frame_ingested(services, message)
    assert queue.qsize() == before + 1  # the following run only
    with services.sessions() as session:
        assert session.get(PhotometryRun, following).state == "queued"
        assert session.get(PhotometryRun, other).state == "done"
    assert run_photometry_job(services, PhotometryJob(run_id=following).to_wire()) == "done"
    with services.sessions() as session:
        assert session.get(PhotometryRun, following).frames_used == N
    services.close()
