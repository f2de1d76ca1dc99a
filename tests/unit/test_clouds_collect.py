"""Data collection: every N-th classified frame copied under its verdict for later review."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from node_observatory.clouds.cli import clouds_group
from node_observatory.clouds.collect import Collector
from tests.unit.allsky_synth import make_sky, save_jpeg


def test_collector_copies_every_nth_under_its_label_and_keeps_each_copy(tmp_path):
    frame = tmp_path / "latest.jpg"
    frame.write_bytes(b"frame")
    os.utime(frame, (1_700_000_000, 1_700_000_000))
    collector = Collector(tmp_path / "review", every=2)
    copies = [collector.offer(frame, label) for label in ("clear", "clear", "cloudy", "clear", "clear", "clear")]
    assert copies[0] is None and copies[2] is None and copies[4] is None
    assert copies[1].parent == tmp_path / "review" / "clear" and copies[1].name == "20231114-221320_latest.jpg"
    assert copies[3].name == "20231114-221320-1_latest.jpg" and copies[5].name == "20231114-221320-2_latest.jpg"
    assert copies[3].read_bytes() == b"frame"
    with pytest.raises(ValueError, match=">= 1"):
        Collector(tmp_path, every=0)
    with pytest.raises(OSError):
        Collector(tmp_path / "review", every=1).offer(tmp_path / "gone.jpg", "clear")


def test_classify_collects_every_nth_frame_under_its_verdict(tmp_path):
    clear = save_jpeg(make_sky(seed=41)[0], tmp_path / "clear.jpg")
    cloudy = save_jpeg(make_sky(seed=42, coverage=0.95)[0], tmp_path / "cloudy.jpg")
    result = CliRunner().invoke(clouds_group, ["classify", "--json", "--collect", str(tmp_path / "review"),
                                               "--collect-every", "2", clear, cloudy, clear, cloudy])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["clear", "overcast"] * 2
    copies = sorted(str(p.relative_to(tmp_path / "review")) for p in (tmp_path / "review").rglob("*.jpg"))
    assert len(copies) == 2 and all(c.startswith("overcast/") and c.endswith("_cloudy.jpg") for c in copies)


def test_a_failed_copy_is_reported_and_the_run_goes_on(tmp_path):
    clear = save_jpeg(make_sky(seed=43)[0], tmp_path / "clear.jpg")
    (tmp_path / "review").mkdir()
    (tmp_path / "review" / "clear").write_text("a file where the label's folder should be")
    result = CliRunner().invoke(clouds_group, ["classify", "--collect", str(tmp_path / "review"), clear, clear])
    assert result.exit_code == 0
    assert result.stderr.count("not collected") == 2 and result.stdout.count(": clear cloud_fraction=") == 2
