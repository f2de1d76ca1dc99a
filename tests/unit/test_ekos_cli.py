"""``obsy ekos read`` and ``obsy ekos write``."""
from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

from common.ekos import read_scheduler_list, read_sequence_queue
from node_telescope.ekos.cli import ekos_group

FIXTURES = Path(__file__).parent / "fixtures" / "ekos"


def run(*args: str):
    return CliRunner().invoke(ekos_group, list(args))


def assert_clean_failure(result, *fragments: str):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_ekos_is_an_obsy_subcommand():
    names = {ep.name: ep.value for ep in entry_points(group="obsy.commands")}
    if "ekos" not in names:
        pytest.skip("obsy is not installed with this checkout's entry points")
    assert names["ekos"] == "node_telescope.ekos.cli:ekos_group"


def test_read_json_of_a_scheduler_list():
    result = run("read", str(FIXTURES / "v14_repeat.esl"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "SchedulerList"
    assert (data["version"], data["profile"]) == ("1.4", "Backyard Refractor")
    job = data["jobs"][0]
    assert set(job) >= {"name", "priority", "ra_hours", "dec_deg", "sequence", "startup", "constraints",
                        "completion", "steps", "extras"}
    assert job["completion"] == {"kind": "Repeat", "value": "3"}
    assert job["constraints"]["min_altitude"] == 30
    assert data["startup_procedure"][0] == {"name": "StartupScript", "value": "/home/obsy/open_roof.sh"}


def test_read_json_of_a_sequence_queue_shows_preserved_elements():
    result = run("read", str(FIXTURES / "lrgb_v26.esq"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "SequenceQueue" and len(data["jobs"]) == 4
    assert data["extras"][0]["parent"] == "" and data["extras"][0]["xml"].startswith("<HFRCheck")
    first = data["jobs"][0]
    assert (first["filter"], first["exposure"], first["count"], first["gain"]) == ("Luminance", 120, 30, 100)
    assert first["frame"] == {"x": 0, "y": 0, "w": 4144, "h": 2822}


def test_read_summary():
    result = run("read", str(FIXTURES / "v16_mosaic.esl"))
    assert result.exit_code == 0, result.output
    assert "scheduler list, version 1.6, profile Simulators, 2 job(s)" in result.output
    assert "M 31-Part1: RA 0.69h" in result.output
    assert "not modelled, kept as they are" in result.output
    result = run("read", str(FIXTURES / "prefix_v20.esq"))
    assert result.exit_code == 0, result.output
    assert "Dark 20 x 300s" in result.output and "gain 120" in result.output


def test_read_errors_are_messages(tmp_path):
    broken = tmp_path / "broken.esq"
    broken.write_text("<SequenceQueue version='2.6'>\n<Job>\n</SequenceQueue>\n")
    assert_clean_failure(run("read", str(broken)), str(broken), "line 3", "malformed XML")
    assert_clean_failure(run("read", str(tmp_path / "absent.esl")), "cannot read file")


def test_write_builds_files(tmp_path):
    schedule = {"capture_dir": "/data/frames", "targets": [
        {"name": "M 42", "ra_deg": 83.82208, "dec_deg": -5.39111, "min_altitude": 25,
         "exposures": [{"filter": "Ha", "exposure_s": 180, "count": 12, "gain": 120, "offset": 20}]}]}
    source = tmp_path / "schedule.json"
    source.write_text(json.dumps(schedule))
    result = run("write", str(source), "--out", str(tmp_path / "ekos"))
    assert result.exit_code == 0, result.output
    esl = (tmp_path / "ekos" / "schedule.esl").resolve()
    assert f"scheduler list: {esl}" in result.output
    job = read_scheduler_list(esl).jobs[0]
    assert job.ra_hours == pytest.approx(83.82208 / 15)
    seq = read_sequence_queue(job.sequence).jobs[0]
    assert (seq.filter, seq.exposure, seq.count, seq.gain, seq.offset) == ("Ha", 180, 12, 120, 20)


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"capture_dir": "/d", "targets": [{"name": "x", "ra_deg": 400, "dec_deg": 0,
                                                    "exposures": [{"exposure_s": 1, "count": 1}]}]}),
     "targets.0.ra_deg"),
])
def test_write_errors_are_messages(tmp_path, content, fragment):
    source = tmp_path / "schedule.json"
    source.write_text(content)
    assert_clean_failure(run("write", str(source), "--out", str(tmp_path / "out")), fragment)


def test_write_missing_schedule(tmp_path):
    assert_clean_failure(run("write", str(tmp_path / "none.json"), "--out", str(tmp_path)), "cannot read file")


def test_write_refuses_huge_schedule_and_unwritable_output(tmp_path, monkeypatch):
    import node_telescope.ekos.cli as cli

    source = tmp_path / "schedule.json"
    source.write_text(json.dumps({"capture_dir": "/d", "targets": [
        {"name": "x", "ra_deg": 1, "dec_deg": 0, "exposures": [{"exposure_s": 1, "count": 1}]}]}))
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert_clean_failure(run("write", str(source), "--out", str(blocker / "sub")), "cannot write file")
    monkeypatch.setattr(cli, "MAX_FILE_BYTES", 10)
    assert_clean_failure(run("write", str(source), "--out", str(tmp_path / "out")), "larger than 10 bytes")
