"""The calibration library on ingested frames: masters built once per batch, superseded, and used."""
from __future__ import annotations

import io
import time

import dramatiq
import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from common import names
from common.contracts import MasterBuilt
from master.library.apply import NotALight, calibrate_frame
from master.models import DeadLetter, Frame, FrameCalibration, MasterFrame

from .library_support import ingest, read_object, running_master, settle
from .test_processing_data import camera, write

N = 5


@pytest.fixture(scope="module")
def cam():
    return camera()


@pytest.fixture(scope="module")
def files(cam, tmp_path_factory):
    d = tmp_path_factory.mktemp("raw")
    out = {
        "bias": [write(cam, d / f"bias{i}.fits", 10 + i, "bias", 0.0) for i in range(2 * N)],
        "dark": [write(cam, d / f"dark{i}.fits", 30 + i, "dark", 60.0, minutes=i) for i in range(N)],
        "flat": [write(cam, d / f"flat{i}.fits", 50 + i, "flat", 2.0, minutes=i) for i in range(N)],
        "light": write(cam, d / "light.fits", 70, "light", 300.0, minutes=30),
        "light_ha": write(cam, d / "light_ha.fits", 71, "light", 300.0, filter_name="Ha", minutes=31),
    }
    return out


def masters(services, kind=None):
    with services.sessions() as session:
        query = select(MasterFrame).order_by(MasterFrame.id)
        if kind:
            query = query.where(MasterFrame.kind == kind)
        rows = session.scalars(query).all()
        return [(row, sorted(f.sha256 for f in row.inputs)) for row in rows]


def frame_shas(services, kind):
    with services.sessions() as session:
        return sorted(session.scalars(select(Frame.sha256).where(Frame.frame_type == kind)))


def test_batches_make_one_master_each_and_supersede(tmp_path, files, cam):
    with running_master(tmp_path, min_frames=N, debounce_s=1.0) as services:
        for path in files["bias"][:N - 1]:
            ingest(services, path)
        settle(services)
        assert masters(services) == []  # below the minimum count: nothing yet
        ingest(services, files["bias"][N - 1])
        settle(services)
        [(first, inputs)] = masters(services)
        assert inputs == frame_shas(services, "bias") and first.n_inputs == N
        assert first.key == f"masters/{first.group_path}/{first.sha256}.fits"
        assert first.group_path.startswith("bias/") and first.superseded_at is None
        data = read_object(services, first.key)
        # the truth: the sensor's bias level plus its column pattern, read noise averaged down
        assert abs(float(np.median(data)) - cam.bias_level_adu) < 1.0
        assert first.quality["noise"] < cam.read_noise_e  # N frames average the read noise

        for path in files["bias"][N:]:  # a second batch, frames further apart than half the delay
            ingest(services, path)
            time.sleep(0.6)
        settle(services)
        rows = masters(services)
        assert len(rows) == 2, "one rebuild for the batch, not one per frame"
        (old, _), (new, new_inputs) = rows
        assert old.superseded_at is not None and new.superseded_at is None
        assert new.n_inputs == 2 * N and new_inputs == frame_shas(services, "bias")
        assert services.store.stat(old.key) is not None  # the previous master is kept
        built = [e for e in services.events if isinstance(e, MasterBuilt)]
        assert [(e.master_id, e.superseded_id) for e in built] == [(old.id, None), (new.id, old.id)]


def test_light_is_calibrated_with_the_matching_masters(tmp_path, files, cam):
    with running_master(tmp_path, min_frames=N, debounce_s=0) as services:
        for kind in ("bias", "dark", "flat"):  # each kind needs the ones before it
            for path in files[kind][:N]:
                ingest(services, path)
            settle(services)
        current = {row.kind: row for row, _ in masters(services)}
        assert set(current) == {"bias", "dark", "flat"}
        assert current["dark"].bias_master_id == current["bias"].id
        assert current["flat"].bias_master_id == current["bias"].id
        ingest(services, files["light"])
        ingest(services, files["light_ha"])
        settle(services)
        with services.sessions() as session:
            light, light_ha = session.scalars(select(Frame.id).where(Frame.frame_type == "light")
                                              .order_by(Frame.id)).all()
        out, record, row = calibrate_frame(services, light)
        assert (row.bias_id, row.dark_id, row.flat_id) == (current["bias"].id, current["dark"].id,
                                                           current["flat"].id)
        assert row.dark_scale == pytest.approx(5.0) and row.missing is None
        # the flat removed the 30 % vignetting: sky in the corners matches the centre
        h, w = out.shape
        centre = np.median(out[h // 2 - 15:h // 2 + 15, w // 2 - 15:w // 2 + 15])
        corner = np.median(out[:20, :20])
        raw = read_object(services, _key(services, light)).astype(float)
        raw_ratio = np.median(raw[:20, :20] - cam.bias_level_adu) / np.median(
            raw[h // 2 - 15:h // 2 + 15, w // 2 - 15:w // 2 + 15] - cam.bias_level_adu)
        assert raw_ratio < 0.85 and abs(corner / centre - 1) < 0.05

        _, record_ha, row_ha = calibrate_frame(services, light_ha)
        assert row_ha.flat_id is None and row_ha.bias_id == current["bias"].id
        assert any("no matching master flat" in w and "Ha" in w for w in row_ha.missing)
        with services.sessions() as session:
            assert session.get(FrameCalibration, light_ha).missing == row_ha.missing
        with pytest.raises(NotALight):
            calibrate_frame(services, 1)


def test_masters_arriving_out_of_order_are_rebuilt_on_the_newest_bias_and_dark(tmp_path, files):
    with running_master(tmp_path, min_frames=N, debounce_s=0) as services:
        for path in files["flat"][:N] + files["dark"][:N] + files["bias"][:N]:  # the worst order
            ingest(services, path)
        settle(services)
        settle(services)  # bias -> darks -> flats: one more round of jobs
        current = {row.kind: row for row, _ in masters(services) if row.superseded_at is None}
        assert current["dark"].bias_master_id == current["bias"].id
        assert current["flat"].bias_master_id == current["bias"].id
        dark = fits.getheader(io.BytesIO(services.store.get_bytes(current["dark"].key)))
        flat = fits.getheader(io.BytesIO(services.store.get_bytes(current["flat"].key)))
        assert dark["BIASSUB"] is True and "DARKFILE" in flat  # the flat lost the (scaled) dark too
        superseded = [row.kind for row, _ in masters(services) if row.superseded_at is not None]
        assert "flat" in superseded  # the first flat had nothing to subtract


def _key(services, frame_id):
    with services.sessions() as session:
        return session.get(Frame, frame_id).key


def test_bad_rebuild_job_is_dead_lettered_and_worker_goes_on(tmp_path, files):
    with running_master(tmp_path, min_frames=N, debounce_s=0) as services:
        services.job_broker.enqueue(dramatiq.Message(
            queue_name=names.PROCESSING_QUEUE, actor_name=names.REBUILD_MASTER_ACTOR,
            args=({"schema": "obsy.rebuild_master", "version": 1, "kind": "lights"},), kwargs={}, options={}))
        settle(services)
        with services.sessions() as session:
            [dead] = session.scalars(select(DeadLetter)).all()
        assert dead.queue == names.PROCESSING_QUEUE and "kind" in dead.reason
        for path in files["bias"][:N]:
            ingest(services, path)
        settle(services)
        assert len(masters(services, "bias")) == 1
