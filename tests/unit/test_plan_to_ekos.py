"""A plan's binning, gain, offset, dithering, focusing and calibration reach the schedule job and the
EKOS files (element names as KStars writes them: GuideDitherPerJob, RefocusEveryN, the Focus step)."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import date

import pytest

from common.contracts import ScheduleJob, parse_message
from common.ekos.codec import read_bytes
from common.ekos.from_job import EkosOptions, job_archive
from master.planning.planner import ExposureRow, Imaging, PlanRequest, plan_night, to_schedule_job
from master.planning.sky import NightSky, Site

OPTIONS = EkosOptions(capture_dir="/data/captures", profile="Roof", steps=("Track", "Guide"))


@pytest.fixture(scope="module")
def job() -> ScheduleJob:
    sky = NightSky(Site(48.58, 7.75, 140), date(2026, 11, 24))
    andromeda = PlanRequest("Andromeda", 10.68, 41.27,
                            (ExposureRow("L", 300, 6, binning=2, gain=120, offset=30), ExposureRow("R", 120, 5)),
                            imaging=Imaging(dither_every=3, focus_at_start=True, focus_every_min=45,
                                            focus_temp_delta=1.5, darks=15, flats=20, flat_exposure_s=2.5))
    orion = PlanRequest("Orion", 83.82, -5.39, (ExposureRow("Ha", 600, 3),))
    requests = [andromeda, orion]
    job = to_schedule_job(plan_night(sky, requests), requests, "night-1", "scope1")
    return parse_message(job.to_json(), ScheduleJob)  # what the node receives


def test_the_job_carries_rows_settings_and_calibration(job):
    by_name = {t.name: t for t in job.targets}
    assert [t.name for t in job.targets][-1] == "Calibration"
    andromeda = by_name["Andromeda"]
    assert (andromeda.dither_every, andromeda.focus_at_start, andromeda.focus_every_min,
            andromeda.focus_temp_delta) == (3, True, 45, 1.5)
    assert [(r.filter_name, r.binning, r.gain, r.offset, r.count) for r in andromeda.rows] == [
        ("L", 2, 120, 30, 6), ("R", 1, None, None, 5)]
    assert by_name["Orion"].dither_every is None and not by_name["Orion"].focus_at_start
    calibration = by_name["Calibration"]
    assert calibration.calibration
    # Flats for each filter and binning Andromeda used, darks for each exposure; Orion asked for none.
    assert sorted((r.frame_type, r.filter_name, r.exposure_s, r.binning, r.count) for r in calibration.rows) == [
        ("dark", None, 120, 1, 15), ("dark", None, 300, 2, 15), ("flat", "L", 2.5, 2, 20), ("flat", "R", 2.5, 1, 20)]


def _files(job) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(job_archive(job, OPTIONS, "/home/me/obsy"))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_ekos_files_carry_them(job):
    files = _files(job)
    esl = ET.fromstring(files["schedule.esl"])
    steps = {j.findtext("Name"): [s.text for s in j.find("Steps")] for j in esl.iter("Job")}
    assert steps["Andromeda"] == ["Track", "Focus", "Guide"] and steps["Orion"] == ["Track", "Guide"]
    assert steps["Calibration"] == []
    constraints = {j.findtext("Name"): [c.text for c in j.find("Constraints")] for j in esl.iter("Job")}
    assert "EnforceTwilight" in constraints["Andromeda"] and "EnforceTwilight" not in constraints["Calibration"]

    andromeda = ET.fromstring(files["Andromeda.esq"])
    assert andromeda.find("RefocusEveryN").attrib["enabled"] == "true" and andromeda.findtext("RefocusEveryN") == "45"
    assert andromeda.findtext("RefocusOnTemperatureDelta") == "1.5"
    first, second = andromeda.findall("Job")
    assert (first.findtext("Binning/X"), first.findtext("Binning/Y"), first.findtext("GuideDitherPerJob")) == ("2", "2", "3")
    gains = {v.attrib["name"]: v.find("OneElement").text for v in first.iter("PropertyVector")}
    assert gains == {"CCD_GAIN": "120", "CCD_OFFSET": "30"}
    assert second.findtext("Binning/X") == "1" and not list(second.iter("PropertyVector"))
    orion = ET.fromstring(files["Orion.esq"])
    assert orion.find("RefocusEveryN") is None and orion.find("Job/GuideDitherPerJob") is None

    calibration = ET.fromstring(files["Calibration.esq"])
    assert sorted(j.findtext("Type") for j in calibration.findall("Job")) == ["Dark", "Dark", "Flat", "Flat"]
    assert calibration.find("Job/GuideDitherPerJob") is None  # no dithering for calibration frames
    # And OBSY's own reader reads them back.
    queue = read_bytes(files["Andromeda.esq"], "Andromeda.esq")
    assert queue.refocus_every_n.value == 45 and queue.jobs[0].guide_dither_per_job == 3 and queue.jobs[0].gain == 120
