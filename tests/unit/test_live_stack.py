"""The live stack: each accepted light folds into its night's stack, noise falls, state stays one size."""
from __future__ import annotations

import time

import numpy as np
import pytest
from astropy.stats import mad_std
from sqlalchemy import select

from common import names
from common.contracts import LiveStackUpdated, UpdateLiveStack
from master.library.triggers import enqueue
from master.models import Frame, FrameCalibration, LiveStack
from master.processing.running_mean import RunningMean
from master.processing.stack import stack_files

from .library_support import ingest, read_object, running_master, settle
from .test_processing_data import camera, write

DITHERS = [(0, 0), (3, 1), (-2, 4), (5, -3), (-4, -2), (1, 6), (6, 2), (-5, 5), (2, -5)]


@pytest.fixture(scope="module")
def lights(tmp_path_factory):
    # no hot pixels or pixel response pattern: uncalibrated, those would not average down
    cam, d = camera(hot_pixel_fraction=0.0, prnu=0.0), tmp_path_factory.mktemp("lights")
    return [write(cam, d / f"light{i}.fits", 200 + i, "light", 120.0, offset_px=off, minutes=2 * i)
            for i, off in enumerate(DITHERS)]


def pixel_noise(image: np.ndarray) -> float:
    # differences down columns cancel the column bias and the sky gradient; stars are outliers to mad_std
    core = image[20:-20, 20:-20]
    return float(mad_std(np.diff(core, axis=0), ignore_nan=True)) / np.sqrt(2)


def test_live_stack_noise_drops_and_state_does_not_grow(tmp_path, lights):
    with running_master(tmp_path, min_frames=5, debounce_s=0) as services:
        noise, sizes = {}, {}
        done = 0
        for upto in (1, 4, 9):
            started = time.monotonic()
            for path in lights[done:upto]:
                ingest(services, path)
            settle(services)
            assert time.monotonic() - started < 5 * (upto - done), "each frame within seconds"
            done = upto
            with services.sessions() as session:
                [stack] = session.scalars(select(LiveStack)).all()
                assert stack.n_frames == upto
                state_key = stack.state_key
            assert stack.key == "stacks/live/2024-09-01/Field/L.fits"
            assert services.store.stat(stack.preview_key).size > 100
            noise[upto] = pixel_noise(read_object(services, stack.key))
            sizes[upto] = services.store.stat(state_key).size
        # Noise falls with every batch; faint unresolved stars of the field are signal, not noise, so
        # the exact registered mean of the same frames is the yardstick, not 1/sqrt(n) alone.
        exact = pixel_noise(stack_files(lights, method="mean", sigma=None).data)
        assert noise[1] > noise[4] > noise[9] and noise[9] < 0.5 * noise[1]
        assert abs(noise[9] / exact - 1) < 0.05, (noise, exact)
        assert sizes[1] == sizes[4] == sizes[9]
        assert [o.key for o in services.store.list("work/live-stacks/")] == [state_key]  # old versions removed
        updates = [e for e in services.events if isinstance(e, LiveStackUpdated)]
        assert [e.n_frames for e in updates] == list(range(1, 10))
        assert updates[-1].preview_key == "stacks/live/2024-09-01/Field/L.png"

        state = RunningMean.from_bytes(services.store.get_bytes(stack.key))
        assert state.coverage.max() == 9 and state.header["OBJECT"] == "Field" and "CRVAL1" in state.header
        with services.sessions() as session:
            first = session.scalar(select(Frame.id).order_by(Frame.id))
            # the frame was calibrated on the way, and the missing masters said so
            assert any("no matching master" in w for w in session.get(FrameCalibration, first).missing)
        enqueue(services.job_broker, names.UPDATE_LIVE_STACK_ACTOR, UpdateLiveStack(frame_id=first))
        settle(services)  # a redelivered job adds nothing
        with services.sessions() as session:
            assert session.scalar(select(LiveStack.n_frames)) == 9
