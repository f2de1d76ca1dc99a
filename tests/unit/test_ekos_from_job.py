"""OBSY schedule jobs → EKOS files for what is left, and captured frames → their rows."""
from __future__ import annotations

from astropy.io import fits

from common.contracts import ScheduleJob
from common.ekos import read_file
from common.ekos.from_job import EkosOptions, match_row, remaining_rows, schedule_for, write_job_files

OPTIONS = EkosOptions(capture_dir="/data/captures", profile="Roof", steps=("Track", "Guide"), enforce_twilight=True,
                      min_altitude_deg=25.0, filter_aliases={"R": "Red", "Ha": "H_Alpha"})


def job(park_at_end=True) -> ScheduleJob:
    return ScheduleJob(job_id="n1", node="scope1", park_at_end=park_at_end, targets=[
        {"name": "M 31", "ra_deg": 10.68, "dec_deg": 41.27,
         "rows": [{"filter_name": "R", "exposure_s": 120, "count": 3},
                  {"filter_name": "Ha", "exposure_s": 300, "count": 2, "gain": 120, "offset": 30, "binning": 2}]},
        {"name": "NGC 7000", "ra_deg": 314.75, "dec_deg": 44.37,
         "rows": [{"filter_name": "Ha", "exposure_s": 300, "count": 1}]},
        # The planner split M 31 into two blocks: EKOS gets one job with both blocks' rows.
        {"name": "M 31", "ra_deg": 10.68, "dec_deg": 41.27,
         "rows": [{"filter_name": "L", "exposure_s": 60, "count": 4}]},
        {"name": "Darks", "ra_deg": 0.0, "dec_deg": 0.0,
         "rows": [{"filter_name": None, "exposure_s": 300, "count": 2, "frame_type": "dark"}]},
    ])


def test_remaining_rows_leave_out_what_is_done():
    done = {"0.0": 3, "0.1": 1, "2.0": 5}
    assert remaining_rows(job(), done) == {"0.1": 1, "1.0": 1, "3.0": 2}
    assert remaining_rows(job(), {}) == {"0.0": 3, "0.1": 2, "1.0": 1, "2.0": 4, "3.0": 2}


def test_schedule_merges_split_targets_maps_filters_and_carries_constraints():
    plan = schedule_for(job(), remaining_rows(job(), {"0.0": 1}), OPTIONS)
    assert [t.name for t in plan.targets] == ["M 31", "NGC 7000", "Darks"]
    m31 = plan.targets[0]
    assert [(r.filter, r.exposure_s, r.count) for r in m31.exposures] == [("Red", 120, 2), ("H_Alpha", 300, 2), ("L", 60, 4)]
    assert (m31.exposures[1].gain, m31.exposures[1].offset, m31.exposures[1].binning) == (120, 30, 2)
    assert m31.steps == ["Track", "Guide"] and m31.min_altitude == 25.0 and m31.enforce_twilight
    assert plan.targets[2].exposures[0].frame_type == "Dark"
    assert plan.profile == "Roof" and plan.park_mount and plan.unpark_mount


def test_written_files_read_back_with_hours_and_the_capture_folder(tmp_path):
    esl = write_job_files(job(park_at_end=False), remaining_rows(job(), {}), OPTIONS, tmp_path)
    scheduler = read_file(esl)
    assert [j.name for j in scheduler.jobs] == ["M 31", "NGC 7000", "Darks"]
    assert abs(scheduler.jobs[1].ra_hours - 314.75 / 15) < 1e-6 and scheduler.jobs[1].dec_deg == 44.37
    assert scheduler.jobs[0].constraints.min_altitude == 25.0
    assert [p.name for p in scheduler.startup_procedure] == ["UnparkMount"]
    assert scheduler.shutdown_procedure == []  # the job does not park at its end
    queue = read_file(scheduler.jobs[0].sequence)
    assert [(s.filter, s.count, s.fits_directory) for s in queue.jobs] == [
        ("Red", 3, "/data/captures"), ("H_Alpha", 2, "/data/captures"), ("L", 4, "/data/captures")]
    assert all(s.target_name == "M 31" for s in queue.jobs)
    # Compact values, as KStars compares them.
    assert "<Filter>Red</Filter>" in (tmp_path / "M_31.esq").read_text()


def header(**cards) -> fits.Header:
    h = fits.Header()
    for key, value in cards.items():
        h[key.replace("_", "-")] = value
    return h


def test_frames_match_their_row_by_object_filter_exposure_and_type():
    left = remaining_rows(job(), {})
    light = header(OBJECT="M 31", FILTER="H_Alpha", EXPTIME=300.0, IMAGETYP="Light Frame", FRAME="Light")
    assert match_row(job(), left, OPTIONS, light) == "0.1"
    assert match_row(job(), left, OPTIONS, header(OBJECT="M 31", FILTER="L", EXPTIME=60.0, FRAME="Light")) == "2.0"
    assert match_row(job(), left, OPTIONS, header(OBJECT="Darks", EXPTIME=300.0, IMAGETYP="Dark Frame")) == "3.0"
    # Nothing left in that row, unknown object, wrong exposure, wrong type.
    assert match_row(job(), {**left, "0.1": 0}, OPTIONS, light) is None
    assert match_row(job(), left, OPTIONS, header(OBJECT="M 33", FILTER="Red", EXPTIME=120.0)) is None
    assert match_row(job(), left, OPTIONS, header(OBJECT="M 31", FILTER="Red", EXPTIME=121.0)) is None
    assert match_row(job(), left, OPTIONS, header(OBJECT="M 31", FILTER="Red", EXPTIME=120.0, IMAGETYP="Flat")) is None
    assert match_row(job(), left, OPTIONS, header(OBJECT="M 31", FILTER="Red")) is None  # no exposure
