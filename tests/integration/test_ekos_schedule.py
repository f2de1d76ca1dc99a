"""KStars 3.6 under Xvfb runs OBSY schedules through the EKOS backend.

The telescope node (a real `obsy telescope` process) starts KStars on a private display and
D-Bus session, creates a remote Ekos profile pointing at a test-owned indiserver, loads the
OBSY-generated .esl/.esq over D-Bus and starts the EKOS scheduler; the frames it captures are
ingested by the master with OBJECT set. An unsafe event during a long exposure stops the
scheduler, aborts the exposure, parks the mount and reports the job interrupted.
"""
from __future__ import annotations

import time

from astropy.io import fits
from sqlalchemy import create_engine, select

from common.config import BrokerConfig
from common.contracts import ScheduleJob
from common.jobs import make_broker, send_schedule
from master.models import Frame
from .helpers import (JobWatcher, ccd_exposure_left, ekos_settings, print_log_tails, private_env,
                      rain_interrupts_the_job, s3_and_broker_sections, start_master_worker, start_obsy, stop_group, wait_for)

MOUNT = "Telescope Simulator"


def ekos_section(desktop, indi_port: int) -> str:
    def toml(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(f'"{x}"' for x in v) + "]"
        return repr(v) if isinstance(v, (int, float)) else f'"{v}"'

    return "[ekos]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in ekos_settings(desktop, indi_port).items())


def two_targets(job_id: str, exposure_s: float, count: int = 1, park_at_end: bool = True) -> ScheduleJob:
    # Circumpolar from KStars' default site (Greenwich): EKOS accepts them at any hour.
    rows = [{"filter_name": "R", "exposure_s": exposure_s, "count": count},
            {"filter_name": "B", "exposure_s": exposure_s, "count": count}]
    return ScheduleJob(job_id=job_id, node="scope1", park_at_end=park_at_end, targets=[
        {"name": "M 81", "ra_deg": 148.888, "dec_deg": 69.065, "rows": rows},
        {"name": "M 82", "ra_deg": 148.968, "dec_deg": 69.680, "rows": rows}])


def test_ekos_schedule_to_repository_and_unsafe_interrupt(kstars_desktop, ekos_indiserver, rabbitmq, postgres, s3,
                                                          s3_bucket, tmp_path):
    db_url = postgres.create_database("ekos_schedule")
    sections = s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
    node = tmp_path / "scope1.toml"
    node.write_text('backend = "ekos"\nheartbeat_s = 2\n[node]\nname = "scope1"\n' + sections
                    + f'[spool]\npath = "{tmp_path / "spool"}"\n' + ekos_section(kstars_desktop, ekos_indiserver.port))
    env = private_env(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start_master_worker(tmp_path, db_url, sections, logs, env)
    telescope = start_obsy(["telescope", "--config", str(node)], logs / "telescope.log", env)
    engine = create_engine(db_url)
    watcher = JobWatcher(rabbitmq.url, "test.ekos.progress")
    states = watcher.states
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=rabbitmq.url))
    try:
        send_schedule(broker, two_targets("ekos-1", exposure_s=1))

        def frames():
            with engine.connect() as connection:
                return connection.execute(select(Frame.object_name, Frame.filter_name, Frame.exposure_s, Frame.key,
                                                 Frame.camera, Frame.frame_type)).all()

        wait_for(lambda: "done" in states("ekos-1") or "failed" in states("ekos-1"), 240, "job ekos-1 finished")
        assert "done" in states("ekos-1"), watcher.last("ekos-1", "failed")
        wait_for(lambda: len(frames()) == 4, 60, "4 EKOS frames in the repository")
        # The repository keeps the filter names the wheel reports (the schedule's R/B are aliases).
        assert sorted(tuple(row)[:3] for row in frames()) == sorted(
            (t, f, 1.0) for t in ("M 81", "M 82") for f in ("Red", "Blue"))
        assert {row.camera for row in frames()} == {"CCD Simulator"}
        assert {"slewing", "exposing", "frame"} <= set(states("ekos-1"))
        frame_events = [p for p in watcher.progress if p.job_id == "ekos-1" and p.state == "frame"]
        assert sorted((p.target, p.filter_name) for p in frame_events) == sorted(
            (t, f) for t in ("M 81", "M 82") for f in ("R", "B"))
        m82 = [row for row in frames() if row.object_name == "M 82"][0]
        response = s3.client().get_object(s3_bucket, m82.key)
        try:
            header = fits.Header.fromstring(response.read(2880 * 20).decode("ascii", "replace"))
        finally:
            response.close()
            response.release_conn()
        assert header["OBJECT"] == "M 82" and header["INSTRUME"] == "CCD Simulator"
        assert ekos_indiserver.getprop(f"{MOUNT}.TELESCOPE_PARK.PARK") == {f"{MOUNT}.TELESCOPE_PARK.PARK": "On"}

        # A long exposure, then rain.
        send_schedule(broker, two_targets("ekos-2", exposure_s=60))
        wait_for(lambda: "exposing" in states("ekos-2") or "failed" in states("ekos-2"), 120, "ekos-2 exposing")
        assert "failed" not in states("ekos-2"), watcher.last("ekos-2", "failed")
        time.sleep(2)  # the camera is now really exposing
        assert ccd_exposure_left(ekos_indiserver) > 0
        # The interrupt includes the park (about 15 s on the simulator).
        rain_interrupts_the_job(ekos_indiserver, watcher, "ekos-2", within_s=60)
        assert len(frames()) == 4
    finally:
        broker.close()
        watcher.close()
        stop_group(telescope)
        stop_group(worker)
        print_log_tails(logs, lines=40)
    assert not kstars_desktop.kstars_processes(), "the node left its KStars running"
