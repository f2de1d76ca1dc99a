"""A schedule sent through RabbitMQ is imaged by a telescope node with the INDI backend (indiserver
with the telescope, CCD, wheel and focuser simulators) and every frame reaches the master
repository; an unsafe event during a long exposure aborts it, parks the mount and interrupts
the job."""
from __future__ import annotations

import time

from astropy.io import fits
from sqlalchemy import create_engine, select

from common.config import BrokerConfig
from common.contracts import ScheduleJob
from common.jobs import make_broker, send_schedule
from master.models import Frame
from .helpers import (JobWatcher, print_log_tails, private_env, rain_interrupts_the_job, s3_and_broker_sections,
                      start_master_worker, start_obsy, stop_group, wait_for)

MOUNT = "Telescope Simulator"


def three_targets(job_id: str, exposure_s: float, park_at_end: bool) -> ScheduleJob:
    # Three neighbours in Ursa Major: the simulator slews at about 5 degrees a second.
    rows = [{"filter_name": "R", "exposure_s": exposure_s, "count": 1},
            {"filter_name": "B", "exposure_s": exposure_s, "count": 1}]
    return ScheduleJob(job_id=job_id, node="scope1", park_at_end=park_at_end, targets=[
        {"name": "M 81", "ra_deg": 148.888, "dec_deg": 69.065, "rows": rows},
        {"name": "M 82", "ra_deg": 148.968, "dec_deg": 69.680, "rows": rows},
        {"name": "NGC 3077", "ra_deg": 150.829, "dec_deg": 68.734, "rows": rows}])


def test_indi_schedule_to_repository_and_unsafe_interrupt(indiserver, rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("indi_schedule")
    sections = s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
    node = tmp_path / "scope1.toml"
    node.write_text('backend = "indi"\nheartbeat_s = 2\n[node]\nname = "scope1"\n' + sections
                    + f'[spool]\npath = "{tmp_path / "spool"}"\n'
                    + f'[indi]\nport = {indiserver.port}\nfilter_aliases = ["B=Blue"]\npark_timeout_s = 60\n'
                    + "site_from_mount = false\nsite_latitude_deg = 48.5\nsite_longitude_deg = 7.75\n")
    env = private_env(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start_master_worker(tmp_path, db_url, sections, logs, env)
    telescope = start_obsy(["telescope", "--config", str(node)], logs / "telescope.log", env)
    engine = create_engine(db_url)
    watcher = JobWatcher(rabbitmq.url, "test.indi.progress")
    states = watcher.states
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=rabbitmq.url))
    try:
        send_schedule(broker, three_targets("indi-1", exposure_s=1, park_at_end=False))

        def frames():
            with engine.connect() as connection:
                return connection.execute(select(Frame.object_name, Frame.filter_name, Frame.exposure_s, Frame.key,
                                                 Frame.ra_deg, Frame.site_lat, Frame.camera, Frame.telescope,
                                                 Frame.frame_type)).all()

        wait_for(lambda: len(frames()) == 6, 60, "6 frames of the INDI schedule in the repository")
        expected = sorted((t, f, 1.0) for t in ("M 81", "M 82", "NGC 3077") for f in ("R", "B"))
        assert sorted(tuple(row)[:3] for row in frames()) == expected
        wait_for(lambda: "done" in states("indi-1"), 30, "job indi-1 done")
        m81 = [row for row in frames() if row.object_name == "M 81"][0]
        assert abs(m81.ra_deg - 148.888) < 1e-3 and m81.site_lat == 48.5 and m81.frame_type == "light"
        assert (m81.camera, m81.telescope) == ("CCD Simulator", MOUNT)
        response = s3.client().get_object(s3_bucket, m81.key)
        try:
            header = fits.Header.fromstring(response.read(2880 * 20).decode("ascii", "replace"))
        finally:
            response.close()
            response.release_conn()
        for card in ("OBJECT", "FILTER", "EXPTIME", "IMAGETYP", "RA", "DEC", "OBJCTRA", "OBJCTDEC", "SITELAT",
                     "SITELONG", "INSTRUME", "TELESCOP", "CCD-TEMP", "GAIN", "XBINNING", "YBINNING", "DATE-OBS"):
            assert card in header, card
        assert header["OBJECT"] == "M 81" and header["IMAGETYP"] == "Light Frame" and header["SITELONG"] == 7.75

        # Parking is slow on the simulator (about 25 s from far away): park here, where it stands.
        indiserver.setprop(f"{MOUNT}.TELESCOPE_PARK_OPTION.PARK_CURRENT=On")
        send_schedule(broker, three_targets("indi-2", exposure_s=20, park_at_end=True))
        wait_for(lambda: "exposing" in states("indi-2"), 30, "indi-2 exposing")
        time.sleep(1.5)  # the camera is now really exposing
        rain_interrupts_the_job(indiserver, watcher, "indi-2", within_s=15)
        assert len(frames()) == 6
    finally:
        broker.close()
        watcher.close()
        stop_group(telescope)
        stop_group(worker)
        print_log_tails(logs)
