"""``obsy plan night``: the database's active plans planned for a site, without the portal."""
from __future__ import annotations

import json
from datetime import time

import pytest
from click.testing import CliRunner

from common.cli import load_role_config, obsy
from master.models import ImagingPlan, PlanRow, Site, Target
from master.services import MasterServices


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "master.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "obsy.db"}"\n'
                    f'[store]\nkind = "local"\npath = "{tmp_path / "store"}"\n[catalog]\nenabled = false\n')
    services = MasterServices(load_role_config("master", str(path)), bus=None)  # migrates, 0012 included
    with services.sessions() as session:
        session.add(Site(name="Backyard", latitude_deg=48.5, longitude_deg=2.25, elevation_m=120,
                         timezone="Europe/Paris"))
        session.commit()
    yield path, services
    services.close()


def run(*args):
    return CliRunner().invoke(obsy, ["plan", "night", *args])


def test_unknown_site_and_no_plans_are_clear_errors(config):
    path, _services = config
    result = run("--site", "Garden", "--config", str(path))
    assert result.exit_code == 1 and "no site named 'Garden' (sites: Backyard)" in result.output
    result = run("--site", "Backyard", "--date", "2026-12-01", "--config", str(path))
    assert result.exit_code == 1 and "no active imaging plans" in result.output


def test_the_night_from_the_active_plans(config):
    path, services = config
    with services.sessions() as session:
        m31 = Target(name="M 31", ra_deg=10.68, dec_deg=41.27)
        m42 = Target(name="M 42", ra_deg=83.82, dec_deg=-5.39)
        session.add_all([
            ImagingPlan(target=m31, priority=2, calib_darks=10, dither_every=3,
                        rows=[PlanRow(filter_name="L", exposure_s=300, count=12, binning=2, gain=120, offset=30)]),
            # Only from 01:00 local: M 42 is high then.
            ImagingPlan(target=m42, priority=3, night_from=time(1, 0), night_until=time(4, 0),
                        rows=[PlanRow(filter_name="Ha", exposure_s=600, count=6)]),
            ImagingPlan(target=Target(name="M 1", ra_deg=83.63, dec_deg=22.01), active=False,
                        rows=[PlanRow(filter_name="L", exposure_s=60, count=4)])])
        session.commit()
    result = run("--site", "Backyard", "--date", "2026-12-01", "--json", "--config", str(path))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["timezone"] == "Europe/Paris" and out["astronomical_night"] == ["2026-12-01T18:52+01:00",
                                                                             "2026-12-02T06:29+01:00"]
    assert [b["target"] for b in out["blocks"]] == ["M 31", "M 42"] and out["unplaced"] == {}
    m42 = out["blocks"][1]
    assert m42["start"] >= "2026-12-02T01:00+01:00" and m42["end"] <= "2026-12-02T04:00+01:00"
    assert out["calibration"] == [{"filter_name": None, "exposure_s": 300.0, "count": 10, "frame_type": "dark",
                                   "binning": 2, "gain": 120.0, "offset": 30.0}]
    text = run("--site", "Backyard", "--date", "2026-12-01", "--config", str(path))
    assert text.exit_code == 0 and "M 31" in text.output and "after the night: 10 × dark 300 s bin 2" in text.output


def test_plan_file_still_works_as_before(tmp_path):
    plan = {"latitude_deg": 48.58, "longitude_deg": 7.75, "requests": [
        {"name": "Dumbbell", "ra_deg": 299.9, "dec_deg": 22.72, "rows": [{"filter": "Ha", "exposure_s": 290, "count": 6,
                                                                          "binning": 2}]}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    for args in (["plan", str(tmp_path / "plan.json")], ["plan", "file", str(tmp_path / "plan.json")],
                 ["plan", "--date", "2026-11-24", str(tmp_path / "plan.json")]):
        result = CliRunner().invoke(obsy, args + ["--json"] if args[1] != "--date" else args + ["--json"])
        assert result.exit_code == 0, result.output
        assert [b["target"] for b in json.loads(result.output)["blocks"]] == ["Dumbbell"]
