"""Final stacks as worker jobs over the repository: calibrated, rejected frames left out, products with inputs."""
from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image
from sqlalchemy import select

from common import names
from common.contracts import FinalStackJob
from common.jobs import send_science_job
from master.models import DeadLetter, Frame, FrameCalibration, Product
from master.stacking.final import scope_prefix

from .library_support import ingest, running_master, settle
from .test_processing_data import camera, write

N = 3
FILTERS = ("R", "G", "B")
OFFSETS = [(0.0, 0.0), (3.4, -2.2), (-2.6, 1.8)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    cam = camera()
    d = tmp_path_factory.mktemp("raw")
    out = {"calibration": [write(cam, d / f"bias{i}.fits", 10 + i, "bias", 0.0) for i in range(N)]
           + [write(cam, d / f"dark{i}.fits", 20 + i, "dark", 60.0, minutes=i) for i in range(N)]
           + [write(cam, d / f"flat_{f}{i}.fits", 30 + 10 * k + i, "flat", 2.0, filter_name=f, minutes=i)
              for k, f in enumerate(FILTERS) for i in range(N)],
           "lights": {f: [write(cam, d / f"light_{f}{i}.fits", 100 + 10 * k + i, "light", 60.0, filter_name=f,
                                offset_px=OFFSETS[i], minutes=10 + 5 * k + i) for i in range(len(OFFSETS))]
                      for k, f in enumerate(FILTERS)}}
    return out


def run_job(services, job: FinalStackJob) -> None:
    send_science_job(services.job_broker, names.FINAL_STACK_ACTOR, job)
    services.job_broker.join(names.SCIENCE_QUEUE, timeout=120_000, fail_fast=False)


def test_final_stack_job_through_the_worker(tmp_path, files):
    with running_master(tmp_path, min_frames=N, debounce_s=0.5) as services:
        for path in files["calibration"] + [p for paths in files["lights"].values() for p in paths]:
            ingest(services, path)
        settle(services)
        with services.sessions() as session:
            lights = {f.original_name: f for f in session.scalars(select(Frame).where(Frame.frame_type == "light"))}
            rejected = lights["light_R2.fits"]
            rejected.accepted, rejected.reject_reason = False, "clouds"
            target, night, rejected_id = rejected.target_name, rejected.night.isoformat(), rejected.id
            session.commit()
        run_job(services, FinalStackJob(target_name=target))                  # every filter, every night
        run_job(services, FinalStackJob(target_name=target, filter_name="R", night=night))
        run_job(services, FinalStackJob(target_name="Nothing Here"))           # dead-lettered, the worker goes on
        run_job(services, FinalStackJob(target_name=target, night="2024-02-30"))   # dead-lettered, not retried
        run_job(services, FinalStackJob(target_name=target, filter_name="G"))  # again: replaces, no duplicates
        with services.sessions() as session:
            products = {p.key: p for p in session.scalars(select(Product))}
            inputs = {k: sorted(i.frame_id for i in p.inputs) for k, p in products.items()}
            letters = [row.reason for row in session.scalars(select(DeadLetter).order_by(DeadLetter.id))]
            calibrated = {row.frame_id: row for row in session.scalars(select(FrameCalibration))}
        everything, one_night = scope_prefix(target, None), scope_prefix(target, night)
        assert sorted(products) == sorted([f"{everything}/{f}.{ext}" for f in FILTERS for ext in ("fits", "png")]
                                          + [f"{everything}/colour.png", f"{one_night}/R.fits", f"{one_night}/R.png"])
        ids = {f: sorted(lights[f"light_{f}{i}.fits"].id for i in range(len(OFFSETS))) for f in FILTERS}
        assert inputs[f"{everything}/R.fits"] == [i for i in ids["R"] if i != rejected_id]      # rejected: left out
        assert inputs[f"{everything}/G.fits"] == ids["G"] and inputs[f"{one_night}/R.png"] == inputs[f"{everything}/R.fits"]
        assert inputs[f"{everything}/colour.png"] == sorted(i for f in FILTERS for i in ids[f] if i != rejected_id)
        r_stack = products[f"{everything}/R.fits"]
        params = r_stack.parameters
        assert params["frames"] == len(OFFSETS) - 1 and params["left_out"] == [] and params["weights"] == "quality"
        assert len(params["frame_weights"]) == len(OFFSETS) - 1 and all(w > 0 for w in params["frame_weights"].values())
        used = params["calibration"][str(ids["R"][0])]
        assert used["bias"] and used["dark"] and used["flat"] and not used["warnings"]   # the library's masters
        assert set(ids["R"]) - {rejected_id} <= set(calibrated)
        assert products[f"{everything}/colour.png"].parameters["kind"] == "RGB"
        with fits.open(io.BytesIO(services.store.get_bytes(r_stack.key))) as hdul:
            assert hdul[0].header["NCOMBINE"] == len(OFFSETS) - 1 and hdul[0].header["WEIGHTS"] == "given"
            assert hdul["REJECTED"].data.shape == hdul[0].data.shape == hdul["COVERAGE"].data.shape
            assert int(hdul["COVERAGE"].data.max()) == len(OFFSETS) - 1
            assert np.isfinite(hdul[0].data).mean() > 0.9
        colour = Image.open(io.BytesIO(services.store.get_bytes(f"{everything}/colour.png")))
        assert colour.mode == "RGB"
        assert len(letters) == 2 and "no accepted light frames of 'Nothing Here'" in letters[0]
        assert "night '2024-02-30' is not a date" in letters[1]


def test_a_stack_is_started_from_the_target_page_and_shown_there(tmp_path, files):
    from master.models import Target
    from .test_web_support import add_user, login, make_app

    with running_master(tmp_path) as services:
        for path in files["lights"]["R"]:
            ingest(services, path)
        settle(services)
        add_user(services, "obs", role="observer")
        add_user(services, "guest", role="guest")
        with services.sessions() as session:
            target = Target(name="Field", ra_deg=290.0, dec_deg=15.0)
            session.add(target)
            session.commit()
            target_id = target.id
        client = make_app(services).test_client()
        login(client, "obs")
        page = client.get(f"/targets/{target_id}").get_data(as_text=True)
        assert 'id="stack-form"' in page and '<option value="R">R</option>' in page and "No stacks yet" in page
        refused = client.post(f"/targets/{target_id}/stacks", data={"filter_name": "Ha"}, follow_redirects=True)
        assert "no accepted light of Field in filter &#39;Ha&#39;" in refused.get_data(as_text=True)
        answer = client.post(f"/targets/{target_id}/stacks", data={"filter_name": "R"}, follow_redirects=True)
        assert "queued" in answer.get_data(as_text=True)
        services.job_broker.join(names.SCIENCE_QUEUE, timeout=120_000, fail_fast=False)
        page = client.get(f"/targets/{target_id}").get_data(as_text=True)
        assert "No stacks yet" not in page and f"({len(OFFSETS)} left out)" not in page
        with services.sessions() as session:
            png = session.scalar(select(Product).where(Product.kind == "stack_png"))
            fits_row = session.scalar(select(Product).where(Product.kind == "stack_fits"))
            warnings = fits_row.parameters["calibration"][str(fits_row.inputs[0].frame_id)]["warnings"]
        assert any("no matching master bias" in w for w in warnings)      # no library here: said, not hidden
        assert f"/products/{png.id}/preview.png" in page and f"/products/{fits_row.id}/download" in page
        assert f'href="/view/{fits_row.key}"' in page and client.get(f"/view/{fits_row.key}").status_code == 200
        client = make_app(services).test_client()
        login(client, "guest")
        image = client.get(f"/products/{png.id}/preview.png")
        assert image.status_code == 200 and image.mimetype == "image/png" and image.data[:4] == b"\x89PNG"
        assert image.headers["Content-Disposition"] == "inline"
        download = client.get(f"/products/{fits_row.id}/download")
        assert download.status_code == 200 and download.data[:6] == b"SIMPLE"
        assert 'id="stack-form"' not in client.get(f"/targets/{target_id}").get_data(as_text=True)
