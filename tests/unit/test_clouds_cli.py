"""``obsy clouds classify`` and ``obsy clouds calibrate`` on synthetic frames."""
from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from node_observatory.clouds.cli import clouds_group
from tests.unit.allsky_synth import CX, CY, RADIUS, make_sky, save_fits16, save_jpeg


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("clouds-cli")
    clear, _ = make_sky(seed=31)
    cloudy, _ = make_sky(seed=32, coverage=0.95)
    (base / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return {"clear": save_jpeg(clear, base / "clear.jpg"), "cloudy": save_fits16(cloudy, base / "cloudy.fits"),
            "broken": str(base / "broken.jpg"), "base": base}


def test_classify_json_one_object_per_line_and_continues_after_a_bad_file(files):
    result = CliRunner().invoke(clouds_group, ["classify", "--json", files["clear"], files["broken"],
                                               files["cloudy"]])
    assert result.exit_code == 1  # a file failed, but every file was tried
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["label"] for r in lines] == ["clear", "error", "overcast"]
    assert lines[1]["path"] == files["broken"] and "broken.jpg" in lines[1]["error"]
    for record in (lines[0], lines[2]):
        assert record["detector"] == "classical" and record["stars_detected"] >= 0
        assert 0.0 <= record["cloud_fraction"] <= 1.0 and len(record["regions"]) == 17
        assert "reason" not in record


def test_classify_text_with_a_given_circle(files):
    result = CliRunner().invoke(clouds_group, ["classify", files["clear"], "--center", str(CX), str(CY),
                                               "--radius", str(RADIUS)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(f"{files['clear']}: clear cloud_fraction=")


def test_classify_reports_the_reason_when_unknown(files, tmp_path):
    import numpy as np
    blank = save_jpeg(np.zeros((300, 400)), tmp_path / "blank.jpg")
    result = CliRunner().invoke(clouds_group, ["classify", "--json", blank])
    record = json.loads(result.stdout)
    assert record["label"] == "unknown" and "blank" in record["reason"] and record["cloud_fraction"] is None


def test_center_needs_radius(files):
    result = CliRunner().invoke(clouds_group, ["classify", files["clear"], "--center", "1", "2"])
    assert result.exit_code == 2 and "--radius" in result.output


def test_calibrate_prints_and_writes_toml_that_classify_reads(files):
    out = files["base"] / "allsky.toml"
    result = CliRunner().invoke(clouds_group, ["calibrate", files["clear"], files["cloudy"], "--write", str(out)])
    assert result.exit_code == 0, result.output
    values = tomllib.loads(result.stdout)["allsky"]
    assert abs(values["center_x"] - CX) < 3 and abs(values["center_y"] - CY) < 3
    assert abs(values["radius"] - RADIUS) < 4
    assert tomllib.loads(out.read_text()) == {"allsky": values}
    result = CliRunner().invoke(clouds_group, ["classify", "--json", "--sky-model", str(out), files["clear"]])
    assert json.loads(result.stdout)["label"] == "clear"


def test_calibrate_with_only_bad_files_fails_clearly(files):
    result = CliRunner().invoke(clouds_group, ["calibrate", files["broken"]])
    assert result.exit_code == 1 and "no readable image" in result.output


def test_classify_with_a_mask_and_a_wrong_sized_mask(files, tmp_path):
    import numpy as np
    from PIL import Image

    from tests.unit.allsky_synth import sky_geometry
    Image.fromarray(sky_geometry()[2].astype(np.uint8) * 255).save(tmp_path / "mask.png")
    Image.fromarray(np.full((200, 300), 255, np.uint8)).save(tmp_path / "small.png")
    good = CliRunner().invoke(clouds_group, ["classify", "--json", "--mask", str(tmp_path / "mask.png"),
                                             files["clear"]])
    assert json.loads(good.stdout)["label"] == "clear"
    bad = CliRunner().invoke(clouds_group, ["classify", "--center", str(CX), str(CY), "--radius", str(RADIUS),
                                            "--mask", str(tmp_path / "small.png"), files["clear"]])
    assert bad.exit_code == 1 and "mask is 300x200" in bad.output


def test_calibrate_refuses_mixed_sizes_and_warns_without_an_edge(files, tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((200, 300), 60, np.uint8)).save(tmp_path / "full.png")
    mixed = CliRunner().invoke(clouds_group, ["calibrate", files["clear"], str(tmp_path / "full.png")])
    assert mixed.exit_code == 1 and "differ in size" in mixed.output
    flat = CliRunner().invoke(clouds_group, ["calibrate", str(tmp_path / "full.png")])
    assert flat.exit_code == 0 and "no horizon edge" in flat.stderr
    assert tomllib.loads(flat.stdout)["allsky"]["radius"] == pytest.approx(180.3, abs=0.1)
