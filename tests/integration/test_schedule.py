"""A schedule sent through RabbitMQ is imaged by a telescope node (simulator backend) and
every frame reaches the master repository; an unsafe event stops the job and parks."""
from __future__ import annotations

from sqlalchemy import create_engine, select

from common import names
from common.config import BrokerConfig
from common.contracts import SafetyState, ScheduleJob
from common.jobs import make_broker, send_schedule
from master.models import Frame, JobRecord, SafetyRecord
from .helpers import (JobWatcher, print_log_tails, private_env, s3_and_broker_sections, start_master_worker, start_obsy,
                      stop_group, wait_for)


def three_targets(job_id: str, exposure_s: float, count: int) -> ScheduleJob:
    rows = [{"filter_name": "R", "exposure_s": exposure_s, "count": count},
            {"filter_name": "B", "exposure_s": exposure_s, "count": count}]
    return ScheduleJob(job_id=job_id, node="scope1", targets=[
        {"name": "M 13", "ra_deg": 250.42, "dec_deg": 36.46, "rows": rows},
        {"name": "M 27", "ra_deg": 299.90, "dec_deg": 22.72, "rows": rows},
        {"name": "M 81", "ra_deg": 148.89, "dec_deg": 69.07, "rows": rows}])


def test_schedule_through_broker_to_repository_and_unsafe_interrupt(rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("schedule")
    sections = s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
    node = tmp_path / "scope1.toml"
    node.write_text('heartbeat_s = 2\n[node]\nname = "scope1"\n' + sections
                    + f'[spool]\npath = "{tmp_path / "spool"}"\n'
                    + '[simulator]\ntime_scale = 200\nwidth = 320\nheight = 240\n')
    env = private_env(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = start_master_worker(tmp_path, db_url, sections, logs, env)
    telescope = start_obsy(["telescope", "--config", str(node)], logs / "telescope.log", env)
    engine = create_engine(db_url)
    watcher = JobWatcher(rabbitmq.url, "test.progress")
    bus = watcher.bus
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=rabbitmq.url))
    try:
        send_schedule(broker, three_targets("night-1", exposure_s=30, count=2))

        def frames():
            with engine.connect() as connection:
                return connection.execute(select(Frame.object_name, Frame.filter_name, Frame.exposure_s)).all()

        wait_for(lambda: len(frames()) == 12, 120, "12 frames of the schedule in the repository")
        expected = sorted((t, f, 30.0) for t in ("M 13", "M 27", "M 81") for f in ("R", "B") for _ in range(2))
        assert sorted(tuple(row) for row in frames()) == expected
        wait_for(lambda: "done" in watcher.states("night-1"), 30, "job done")

        # Long exposures; the sky turns unsafe during the first one.
        send_schedule(broker, three_targets("night-2", exposure_s=1200, count=1))
        wait_for(lambda: "exposing" in watcher.states("night-2"), 60, "night-2 exposing")
        bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="unsafe", reasons=["rain"]))
        wait_for(lambda: "interrupted" in watcher.states("night-2"), 10, "night-2 interrupted")
        stopped = watcher.last("night-2", "interrupted")
        assert "rain" in stopped.reason and stopped.frame_index == 0
        assert len(frames()) == 12

        # The master keeps the jobs' outcome and the safety history.
        def jobs():
            with engine.connect() as connection:
                return dict(connection.execute(select(JobRecord.job_id, JobRecord.state)).all())

        wait_for(lambda: jobs() == {"night-1": "done", "night-2": "interrupted"}, 20, "job records on the master")
        with engine.connect() as connection:
            assert connection.execute(select(SafetyRecord.state, SafetyRecord.reasons)).all() == [("unsafe", ["rain"])]
    finally:
        broker.close()
        watcher.close()
        stop_group(telescope)
        stop_group(worker)
        print_log_tails(logs)
