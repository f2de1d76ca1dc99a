"""Rain on the weather station → the observatory node publishes `unsafe` through RabbitMQ →
the telescope node aborts its exposure and parks → the master records the verdict and the job
(and the station's readings, which the node reports every ``publish_every_s``)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import create_engine, select

from common import names
from common.config import BrokerConfig
from common.contracts import JobProgress, ScheduleJob
from common.events import RabbitEventBus
from common.jobs import make_broker, send_schedule
from master.models import JobRecord, SafetyRecord, WeatherRecord
from .helpers import print_log_tails, private_env, run_obsy, s3_and_broker_sections, start_obsy, stop_group, wait_for


def weather(path, rain: bool, wind: float) -> None:
    path.write_text(json.dumps({"time": datetime.now(timezone.utc).isoformat(), "wind_kmh": wind,
                                "humidity": 60, "rain": rain}))


def test_rain_parks_the_telescope_and_the_master_records_it(rabbitmq, postgres, s3, s3_bucket, tmp_path):
    db_url = postgres.create_database("safety_chain")
    sections = s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
    (tmp_path / "master.toml").write_text(f'[database]\nurl = "{db_url}"\n' + sections
                                          + "[worker]\nprocesses = 1\nthreads = 1\n")
    (tmp_path / "scope1.toml").write_text('[node]\nname = "scope1"\n' + sections
                                          + f'[spool]\npath = "{tmp_path / "spool"}"\n'
                                          + '[simulator]\ntime_scale = 100\nwidth = 200\nheight = 160\n')
    station = tmp_path / "weather.json"
    weather(station, rain=False, wind=10)
    (tmp_path / "roof1.toml").write_text(
        f'publish_every_s = 5\n[node]\nname = "roof1"\n[broker]\nkind = "rabbitmq"\nurl = "{rabbitmq.url}"\n'
        '[safety]\nmin_safe_minutes = 0\ntick_s = 0.2\n'
        f'[[safety.sources]]\nname = "station"\ntype = "json"\npath = "{station}"\ncadence_s = 0.2\n'
        'max_age_s = 60\nthresholds = { wind_kmh = { unsafe_above = 40, safe_below = 30 } }\n')
    env = private_env(tmp_path)
    run_obsy(["master", "migrate", "--config", str(tmp_path / "master.toml")], env)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [start_obsy(["master", "worker", "--config", str(tmp_path / "master.toml")], logs / "worker.log", env),
             start_obsy(["telescope", "--config", str(tmp_path / "scope1.toml")], logs / "telescope.log", env),
             start_obsy(["observatory", "--config", str(tmp_path / "roof1.toml")], logs / "observatory.log", env)]
    engine = create_engine(db_url)
    bus = RabbitEventBus(rabbitmq.url)
    progress: list[JobProgress] = []
    bus.subscribe([names.JOB_PROGRESS_PATTERN], lambda key, message: progress.append(message), queue_name="t.jobs")
    broker = make_broker(BrokerConfig(kind="rabbitmq", url=rabbitmq.url))

    def verdicts():
        with engine.connect() as connection:
            return [row.state for row in connection.execute(select(SafetyRecord).order_by(SafetyRecord.id))]

    try:
        wait_for(lambda: "safe" in verdicts(), 30, "the first safe verdict on the master")
        send_schedule(broker, ScheduleJob(job_id="rainy", node="scope1", targets=[
            {"name": "M 45", "ra_deg": 56.85, "dec_deg": 24.12,
             "rows": [{"filter_name": "L", "exposure_s": 3000, "count": 3}]}]))
        wait_for(lambda: any(p.state == "exposing" for p in progress), 30, "the exposure to start")
        weather(station, rain=True, wind=10)
        wait_for(lambda: any(p.state == "interrupted" for p in progress), 15, "the job to be interrupted")
        [stopped] = [p for p in progress if p.state == "interrupted"]
        assert "roof1" in stopped.reason and "rain" in stopped.reason
        wait_for(lambda: verdicts()[-1] == "unsafe", 10, "the unsafe verdict on the master")
        with engine.connect() as connection:
            job = connection.execute(select(JobRecord.state, JobRecord.reason)).one()
            readings = connection.execute(select(WeatherRecord.node_name, WeatherRecord.values)
                                          .order_by(WeatherRecord.id)).all()
        assert job.state == "interrupted"
        assert readings and all(node == "roof1" for node, _ in readings)
        # Reports come every publish_every_s; which ones the worker's queue saw depends on when it
        # was bound, so only what they hold is checked: the station's quantities, as it wrote them.
        assert all(set(r.values) <= {"wind_kmh", "humidity", "rain"} for r in readings)
        assert any(r.values.get("rain") is True or r.values.get("humidity") == 60.0 for r in readings)
    finally:
        broker.close()
        bus.close()
        for proc in procs:
            stop_group(proc)
        print_log_tails(logs)
