"""Roof commands from the portal through RabbitMQ: the observatory node (simulated roof and mount)
carries them out under its interlock, answers, and the master worker records the answer and the
roof's states, which the observatory page then shows. Rain afterwards closes the roof."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from sqlalchemy import create_engine, select

from common.config import load_config
from master.models import RoofCommandRecord, RoofRecord
from master.services import MasterServices
from tests.unit.test_web_support import add_user, login, make_app
from .helpers import print_log_tails, private_env, run_obsy, s3_and_broker_sections, start_obsy, stop_group, wait_for


def weather(path, rain: bool) -> None:
    path.write_text(json.dumps({"time": datetime.now(timezone.utc).isoformat(), "rain": rain}))


def test_open_and_close_from_the_portal_reach_the_roof_and_come_back(rabbitmq, postgres, s3, s3_bucket, tmp_path,
                                                                     monkeypatch):
    db_url = postgres.create_database("roof_commands")
    sections = s3_and_broker_sections(s3, s3_bucket, rabbitmq.url)
    master_toml = tmp_path / "master.toml"
    master_toml.write_text(f'[database]\nurl = "{db_url}"\n' + sections + "[worker]\nprocesses = 1\nthreads = 1\n")
    station = tmp_path / "weather.json"
    weather(station, rain=False)
    (tmp_path / "roof1.toml").write_text(
        f'publish_every_s = 5\n[node]\nname = "roof1"\n[broker]\nkind = "rabbitmq"\nurl = "{rabbitmq.url}"\n'
        '[safety]\nmin_safe_minutes = 0\ntick_s = 0.2\n'
        f'[[safety.sources]]\nname = "station"\ntype = "json"\npath = "{station}"\ncadence_s = 0.2\nmax_age_s = 60\n'
        f'[roof]\nkind = "simulator"\nmin_safe_s = 0\nstate_file = "{tmp_path / "roof.json"}"\n')
    env = private_env(tmp_path)
    run_obsy(["master", "migrate", "--config", str(master_toml)], env)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [start_obsy(["master", "worker", "--config", str(master_toml)], logs / "worker.log", env),
             start_obsy(["observatory", "--config", str(tmp_path / "roof1.toml")], logs / "observatory.log", env)]
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "cfg"))
    services = MasterServices(load_config("master", str(master_toml)), migrate=False)
    add_user(services, "ada", role="observer")
    client = make_app(services).test_client()
    login(client, "ada")
    engine = create_engine(db_url)

    def roof_states():
        with engine.connect() as connection:
            return [row.state for row in connection.execute(select(RoofRecord).order_by(RoofRecord.id))]

    def answer(action):
        with engine.connect() as connection:
            return connection.execute(select(RoofCommandRecord.accepted, RoofCommandRecord.reason)
                                      .where(RoofCommandRecord.action == action)
                                      .order_by(RoofCommandRecord.sent_at)).first()

    try:
        wait_for(lambda: "closed" in roof_states(), 30, "the roof's first state on the master")
        assert b"open sent to roof1" in client.post("/observatory/roof1/roof", data={"action": "open"},
                                                    follow_redirects=True).data
        wait_for(lambda: answer("open") is not None and answer("open")[0] is not None, 20, "the node's answer")
        assert answer("open")[0] is True, answer("open")
        wait_for(lambda: roof_states()[-1:] == ["open"], 30, "the roof open on the master")
        html = client.get("/observatory").data.decode()
        assert "data-roof-state>open" in html and re.search(r'<td>open</td><td>ada</td>.*?done', html, re.S)

        weather(station, rain=True)  # rain: the node parks the (simulated) mount and closes by itself
        wait_for(lambda: roof_states()[-1:] == ["closed"], 60, "the roof closed after rain")
        client.post("/observatory/roof1/roof", data={"action": "open"})
        wait_for(lambda: len(_answers(engine)) == 2, 20, "the second answer")
        refused = [a for a in _answers(engine) if a.accepted is False]
        assert refused and "unsafe" in refused[0].reason
    finally:
        services.close()
        for proc in procs:
            stop_group(proc)
        print_log_tails(logs)


def _answers(engine):
    with engine.connect() as connection:
        return connection.execute(select(RoofCommandRecord.action, RoofCommandRecord.accepted, RoofCommandRecord.reason)
                                  .where(RoofCommandRecord.accepted.is_not(None))).all()
