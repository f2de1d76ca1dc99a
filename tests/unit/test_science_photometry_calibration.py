"""Photometry on calibrated frames: the library's masters (recorded or chosen) are applied and named."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from common.contracts import PhotometryJob
from master.ingest.local import ingest_paths
from master.models import Frame, FrameCalibration, MasterFrame
from master.science.lightcurve_csv import parse_lightcurve_csv
from master.science.photometry_job import run_photometry_job
from master.science.products import products_of_run
from tests.unit.science_frames import write_frames
from tests.unit.test_science_photometry_jobs import add_run, factor
from tests.unit.test_web_support import make_services

N = 4
PEDESTAL = 300.0


def vignetting(shape) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r2 = ((xx - shape[1] / 2) ** 2 + (yy - shape[0] / 2) ** 2) / ((shape[0] / 2) ** 2 + (shape[1] / 2) ** 2)
    return (1.0 - 0.45 * r2).astype(np.float32)


@pytest.fixture(scope="module")
def raw_field(tmp_path_factory):
    """The generated frames as a camera would give them: a pedestal and a strong vignetting."""
    folder = tmp_path_factory.mktemp("phot-raw")
    paths, target, comps, _ = write_frames(folder, [factor(i) for i in range(N)])
    for path in paths:
        with fits.open(path) as hdul:
            header, data = hdul[0].header, hdul[0].data.astype(np.float32)
        fits.PrimaryHDU(data=data * vignetting(data.shape) + PEDESTAL, header=header).writeto(path, overwrite=True)
    return paths, target, comps


@pytest.fixture
def services(tmp_path, monkeypatch, raw_field):
    services = make_services(tmp_path, monkeypatch)
    assert [r["status"] for r in ingest_paths(services, raw_field[0])] == ["ingested"] * N
    yield services
    services.close()


def add_master(services, kind: str, data: np.ndarray, batch: int = 0) -> int:
    header = fits.Header({"IMAGETYP": {"bias": "Master Bias", "flat": "Master Flat"}[kind]})
    buffer = io.BytesIO()
    fits.PrimaryHDU(data=data.astype(np.float32), header=header).writeto(buffer)
    body = buffer.getvalue()
    key = f"calibration/masters/{kind}-{hashlib.sha256(body).hexdigest()[:12]}.fits"
    services.store.put_bytes(key, body)
    with services.sessions() as session:
        row = MasterFrame(kind=kind, group_path=f"test/{kind}", n_inputs=10, inputs_sha256=f"{batch:064d}", key=key,
                          sha256=hashlib.sha256(body).hexdigest(), filter_name="L" if kind == "flat" else None, width=data.shape[1], height=data.shape[0])
        session.add(row)
        session.commit()
        return row.id


def frame_shape(services):
    with services.sessions() as session:
        frame = session.scalars(select(Frame)).first()
        return frame.height, frame.width


def run(services, raw_field):
    _, target, comps = raw_field
    run_id = add_run(services, target, comps)
    assert run_photometry_job(services, PhotometryJob(run_id=run_id).to_wire()) == "done"
    with services.sessions() as session:
        products = {p.kind: p for p in products_of_run(session, run_id)}
        csv = products["lightcurve_csv"]
        rows = parse_lightcurve_csv(services.store.get_bytes(csv.key).decode())
        return csv.parameters["calibration"], rows, products["aavso_extended"].parameters["calibration"]


def error(rows, target) -> float:
    """The worst distance of the standardized magnitudes from the truth (catalogue + known change)."""
    expected = target.mag - 2.5 * np.log10([factor(i) for i in range(N)])
    return float(np.max(np.abs(np.array([r["mag"] for r in rows]) - expected)))


def test_without_masters_the_run_says_it_measured_raw_frames(services, raw_field):
    calibration, rows, _ = run(services, raw_field)
    assert calibration["masters"] == [] and len(calibration["uncalibrated_frames"]) == N
    assert calibration["missing"] and all(f["source"] == "none" for f in calibration["frames"].values())
    assert error(rows, raw_field[1]) > 0.025  # the vignetting moves the target against its comparisons


def test_library_masters_calibrate_the_frames_and_are_named(services, raw_field):
    shape = frame_shape(services)
    bias_id = add_master(services, "bias", np.full(shape, PEDESTAL))
    flat_id = add_master(services, "flat", vignetting(shape))
    calibration, rows, same = run(services, raw_field)
    assert calibration == same
    assert [(m["id"], m["kind"]) for m in calibration["masters"]] == [(bias_id, "bias"), (flat_id, "flat")]
    assert calibration["uncalibrated_frames"] == []
    for note in calibration["frames"].values():
        assert (note["source"], note["bias"], note["dark"], note["flat"]) == ("library", bias_id, None, flat_id)
    assert any("dark" in m for m in calibration["missing"])  # there is no master dark, and it says so
    assert error(rows, raw_field[1]) < 0.015


def test_a_recorded_calibration_is_reused(services, raw_field):
    shape = frame_shape(services)
    recorded_bias = add_master(services, "bias", np.full(shape, PEDESTAL))
    flat_id = add_master(services, "flat", vignetting(shape))
    newer_bias = add_master(services, "bias", np.full(shape, PEDESTAL), batch=1)  # the library would choose it now
    with services.sessions() as session:
        first = session.scalars(select(Frame.id).order_by(Frame.id)).first()
        session.add(FrameCalibration(frame_id=first, bias_id=recorded_bias, flat_id=flat_id,
                                     missing=["no matching master dark"]))
        session.commit()
    calibration, rows, _ = run(services, raw_field)
    assert calibration["frames"][str(first)]["source"] == "recorded"
    assert calibration["frames"][str(first)]["bias"] == recorded_bias
    assert {m["id"] for m in calibration["masters"]} >= {recorded_bias, flat_id}
    assert error(rows, raw_field[1]) < 0.015
    assert newer_bias  # chosen for the frames without a record (nearest date, then the newest id)


def test_a_broken_master_is_named_and_the_frames_measured_raw(services, raw_field):
    bias_id = add_master(services, "bias", np.full(frame_shape(services), PEDESTAL))
    with services.sessions() as session:
        services.store.put_bytes(session.get(MasterFrame, bias_id).key, b"not a FITS file")
    calibration, rows, _ = run(services, raw_field)
    assert len(rows) == N and calibration["uncalibrated_frames"] and calibration["masters"] == []
    assert all(m.startswith("not calibrated: ") for m in calibration["missing"])
