"""All-sky cloud detection as a safety source, on generated all-sky frames."""
import os
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from common.config import ConfigError, load_config
from node_observatory.clouds import SkyModel
from node_observatory.safety import Verdict
from node_observatory.safety.factory import build_monitor
from node_observatory.safety.sources.allsky import AllSkySource
from tests.unit.allsky_synth import CX, CY, RADIUS, make_sky, save_fits16, save_jpeg, sky_geometry


@pytest.fixture(scope="module")
def skies(tmp_path_factory):
    """Frames of known cover, saved once: (kind -> path) plus the sky model and its mask."""
    base = tmp_path_factory.mktemp("allsky-frames")
    out = {"clear": save_jpeg(make_sky(seed=2)[0], base / "clear.jpg"),
           "partly": save_fits16(make_sky(seed=3, coverage=0.3)[0], base / "partly.fits"),
           "overcast": save_jpeg(make_sky(seed=5, coverage=0.95)[0], base / "overcast.jpg"),
           "daylight": save_jpeg(make_sky(seed=7, level=200.0)[0], base / "daylight.jpg"),
           "blank": save_jpeg(np.full((700, 900), 40.0), base / "blank.jpg")}
    _, _, visible = sky_geometry()
    Image.fromarray((visible * 255).astype(np.uint8), "L").save(base / "mask.png")
    model = base / "allsky.toml"
    model.write_text(SkyModel(CX, CY, RADIUS).to_toml("mask.png"))
    out["model"] = str(model)
    return out


def put(src: str, dest, age_s: float = 0.0):
    """Copy a frame to ``dest`` the way camera software does (write, then rename), dated ``age_s`` ago."""
    data = open(src, "rb").read()
    tmp = f"{dest}.part"
    with open(tmp, "wb") as handle:
        handle.write(data)
    stamp = time.time() - age_s
    os.utime(tmp, (stamp, stamp))
    os.replace(tmp, dest)
    return datetime.fromtimestamp(stamp, timezone.utc)


def allsky_config(tmp_path, path, model, extra=""):
    config = tmp_path / "observatory.toml"
    config.write_text(f'[safety]\nmin_safe_minutes = 0\n[[safety.sources]]\nname = "allsky"\ntype = "allsky"\n'
                      f'path = "{path}"\nsky_model = "{model}"\ncadence_s = 1\nmax_age_s = 600\n{extra}\n')
    return load_config("observatory", config)


def test_newest_image_in_a_folder_with_hysteresis(tmp_path, skies):
    folder = tmp_path / "images"
    folder.mkdir()
    config = allsky_config(tmp_path, folder, skies["model"],
                           "thresholds = { cloud_fraction = { unsafe_above = 0.5, safe_below = 0.1 } }")
    monitor = build_monitor(config, hold_at_start=False)
    now = datetime.now(timezone.utc)
    put(skies["clear"], folder / "a.jpg", age_s=300)
    put(skies["overcast"], folder / "b.jpg", age_s=200)  # newer: this one counts
    status = monitor.step(now)
    values = status.sources[0].reading.values
    assert values["label"] == "overcast" and values["cloud_fraction"] > 0.8
    assert status.state is Verdict.UNSAFE and "cloud_fraction" in status.reasons[0]
    put(skies["partly"], folder / "c.fits", age_s=100)
    status = monitor.step(now + timedelta(seconds=2))
    partly = status.sources[0].reading.values["cloud_fraction"]
    assert 0.1 < partly < 0.5  # between the limits: still unsafe (hysteresis)
    assert status.state is Verdict.UNSAFE
    put(skies["clear"], folder / "d.jpg", age_s=50)
    assert monitor.step(now + timedelta(seconds=4)).state is Verdict.SAFE
    put(skies["partly"], folder / "e.fits", age_s=10)
    status = monitor.step(now + timedelta(seconds=6))
    assert status.sources[0].reading.values["cloud_fraction"] == partly and status.state is Verdict.SAFE


def test_one_overwritten_file_is_classified_once_per_image(tmp_path, skies, monkeypatch):
    import node_observatory.clouds as clouds

    calls = []
    real = clouds.classify
    monkeypatch.setattr(clouds, "classify", lambda *a, **k: calls.append(1) or real(*a, **k))
    latest = tmp_path / "latest.jpg"
    source = AllSkySource("allsky", latest, skies["model"])
    now = datetime.now(timezone.utc)
    taken = put(skies["clear"], latest, age_s=30)
    first = source.read(now)
    assert first.values["label"] == "clear" and abs((first.time - taken).total_seconds()) < 0.01
    assert source.read(now) is first and len(calls) == 1
    put(skies["overcast"], latest, age_s=5)
    assert source.read(now).values["label"] == "overcast" and len(calls) == 2


@pytest.mark.parametrize("kind, words", [("daylight", "daylight"), ("blank", "blank frame")])
def test_frames_the_detector_cannot_judge_are_unknown_with_its_reason(tmp_path, skies, kind, words):
    latest = tmp_path / "latest.jpg"
    put(skies[kind], latest)
    monitor = build_monitor(allsky_config(tmp_path, latest, skies["model"]), hold_at_start=False)
    status = monitor.step(datetime.now(timezone.utc))
    assert status.state is Verdict.UNKNOWN
    assert "detector says unknown" in status.reasons[0] and words in status.reasons[0]


def test_a_stale_image_is_unknown(tmp_path, skies):
    latest = tmp_path / "latest.jpg"
    put(skies["clear"], latest, age_s=1200)  # the camera stopped 20 minutes ago
    monitor = build_monitor(allsky_config(tmp_path, latest, skies["model"]), hold_at_start=False)
    status = monitor.step(datetime.now(timezone.utc))
    assert status.state is Verdict.UNKNOWN and "stale: data is 1200 s old (max 600 s)" in status.reasons[0]


def test_missing_empty_and_unreadable_inputs_say_why(tmp_path, skies):
    now = datetime.now(timezone.utc)
    assert "does not exist" in AllSkySource("a", tmp_path / "nowhere", skies["model"]).read(now).reasons[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    assert "no image" in AllSkySource("a", empty, skies["model"]).read(now).reasons[0]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    os.utime(broken, (time.time() - 60, time.time() - 60))
    assert "not an image Pillow or astropy can read" in AllSkySource("a", broken, skies["model"]).read(now).reasons[0]


def test_a_half_written_image_keeps_the_previous_result(tmp_path, skies):
    folder = tmp_path / "images"
    folder.mkdir()
    source = AllSkySource("allsky", folder, skies["model"])
    put(skies["clear"], folder / "a.jpg", age_s=60)
    good = source.read(datetime.now(timezone.utc))
    (folder / "b.jpg").write_bytes(open(skies["overcast"], "rb").read()[:2000])  # being written now
    assert source.read(datetime.now(timezone.utc)) is good
    old = time.time() - 30  # still broken long after it was written: the source says so
    os.utime(folder / "b.jpg", (old, old))
    assert "cannot read" in source.read(datetime.now(timezone.utc)).reasons[0]


def test_a_bad_sky_model_is_unknown_not_a_crash(tmp_path, skies):
    latest = tmp_path / "latest.jpg"
    put(skies["clear"], latest)
    now = datetime.now(timezone.utc)
    missing = AllSkySource("a", latest, tmp_path / "missing.toml").read(now)
    assert missing.verdict is Verdict.UNKNOWN and "sky model" in missing.reasons[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("[allsky]\ncenter_x = 1\n")
    assert "needs center_x, center_y and radius" in AllSkySource("a", latest, bad).read(now).reasons[0]
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.full((50, 60), 255, np.uint8), "L").save(small / "mask.png")
    (small / "allsky.toml").write_text(SkyModel(CX, CY, RADIUS).to_toml("mask.png"))
    other = AllSkySource("a", latest, small / "allsky.toml").read(now)
    assert other.verdict is Verdict.UNKNOWN and "the sky mask is 60x50 pixels" in other.reasons[0]


def test_without_a_sky_model_the_circle_is_found_in_the_image(tmp_path, skies):
    latest = tmp_path / "latest.jpg"
    put(skies["overcast"], latest)
    reading = AllSkySource("a", latest, None, min_altitude=25.0, reference_density=20.0).read(datetime.now(timezone.utc))
    assert reading.values["label"] in ("cloudy", "overcast")


def test_allsky_config_defaults_and_errors(tmp_path):
    config = tmp_path / "observatory.toml"
    config.write_text('[[safety.sources]]\nname = "allsky"\ntype = "allsky"\npath = "/tmp/latest.jpg"\n')
    limits = load_config("observatory", config).safety.sources[0].thresholds["cloud_fraction"]
    assert (limits.unsafe_above, limits.safe_below) == (0.5, 0.3)
    config.write_text('[[safety.sources]]\nname = "a"\ntype = "allsky"\n')
    with pytest.raises(ConfigError, match="type 'allsky' needs exactly one of path and indi_allsky_db"):
        load_config("observatory", config)
    config.write_text('[[safety.sources]]\nname = "a"\ntype = "csv"\npath = "x"\nsky_model = "m.toml"\n')
    with pytest.raises(ConfigError, match="only type 'allsky' takes sky_model"):
        load_config("observatory", config)


def indi_allsky_db(path, rows):
    """A database laid out as indi-allsky keeps it: an ``image`` table with filename and createDate."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE image (id INTEGER PRIMARY KEY, filename VARCHAR(255) UNIQUE NOT NULL, "
                     "createDate DATETIME NOT NULL, exposure FLOAT)")
        conn.executemany("INSERT INTO image (filename, createDate, exposure) VALUES (?, ?, 5.0)", rows)
    return path


def test_newest_image_from_indi_allskys_database(tmp_path, skies):
    images = tmp_path / "images"
    (images / "20261201").mkdir(parents=True)
    put(skies["clear"], images / "20261201" / "a.jpg", age_s=120)
    put(skies["overcast"], images / "20261201" / "b.jpg", age_s=60)
    # The database, not the file times, says which is newest: a.jpg was recorded last.
    db = indi_allsky_db(tmp_path / "indi-allsky.sqlite", [("20261201/b.jpg", "2026-12-01 21:00:00"),
                                                          ("20261201/a.jpg", "2026-12-01 21:01:00")])
    config = tmp_path / "observatory.toml"
    config.write_text(f'[safety]\nmin_safe_minutes = 0\n[[safety.sources]]\nname = "allsky"\ntype = "allsky"\n'
                      f'indi_allsky_db = "{db}"\nimage_root = "{images}"\nsky_model = "{skies["model"]}"\n'
                      'cadence_s = 1\nmax_age_s = 600\n')
    monitor = build_monitor(load_config("observatory", config), hold_at_start=False)
    status = monitor.step(datetime.now(timezone.utc))
    assert status.sources[0].reading.values["label"] == "clear" and status.state is Verdict.SAFE


def test_indi_allsky_database_problems_say_why(tmp_path, skies):
    from node_observatory.safety.sources.allsky_db import IndiAllSkyImages
    from node_observatory.safety.sources.base import SourceError

    with pytest.raises(SourceError, match="does not exist"):
        IndiAllSkyImages(tmp_path / "none.sqlite").newest()
    empty = indi_allsky_db(tmp_path / "empty.sqlite", [])
    with pytest.raises(SourceError, match="lists no image yet"):
        IndiAllSkyImages(empty).newest()
    relative = indi_allsky_db(tmp_path / "rel.sqlite", [("x/a.jpg", "2026-12-01 21:00:00")])
    with pytest.raises(SourceError, match="set image_root"):
        IndiAllSkyImages(relative).newest()
    with pytest.raises(SourceError, match="is missing"):
        IndiAllSkyImages(relative, tmp_path).newest()
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(SourceError, match="junk.sqlite"):
        IndiAllSkyImages(tmp_path / "junk.sqlite").newest()
    with pytest.raises(ConfigError, match="exactly one of path and indi_allsky_db"):
        bad = tmp_path / "bad.toml"
        bad.write_text('[[safety.sources]]\nname = "a"\ntype = "allsky"\npath = "/x"\nindi_allsky_db = "/y"\n')
        load_config("observatory", bad)


def test_each_new_image_publishes_its_cloud_map_once(tmp_path, skies):
    from common import names
    from common.contracts import CloudMap
    from common.events import InProcessEventBus
    from node_observatory.publish import CloudMapPublisher

    folder = tmp_path / "images"
    folder.mkdir()
    monitor = build_monitor(allsky_config(tmp_path, folder, skies["model"]), hold_at_start=False)
    bus, maps = InProcessEventBus(), []
    bus.subscribe([names.CLOUDS_PATTERN], lambda key, message: maps.append((key, message)))
    publish = CloudMapPublisher(bus, "roof1", monitor)
    put(skies["partly"], folder / "a.fits", age_s=30)
    now = datetime.now(timezone.utc)
    for step in range(3):  # one image, three steps: one map
        publish(monitor.step(now + timedelta(seconds=2 * step)))
    put(skies["overcast"], folder / "b.jpg", age_s=5)
    publish(monitor.step(now + timedelta(seconds=10)))
    bus.drain()
    bus.close()
    assert [key for key, _ in maps] == ["observatory.roof1.clouds"] * 2
    first, second = (message for _, message in maps)
    assert isinstance(first, CloudMap) and first.source == "allsky" and second.label == "overcast"
    assert len(first.regions) == 17 and {"alt_min", "alt_max", "az_min", "az_max", "cloud_fraction"} <= set(first.regions[0])
    judged = [r["cloud_fraction"] for r in second.regions if r["cloud_fraction"] is not None]
    assert judged and min(judged) > 0.5  # overcast everywhere it could judge
