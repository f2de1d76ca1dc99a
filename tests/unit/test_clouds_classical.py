"""The classical cloud detector on synthetic all-sky frames of known cloud cover (tests/unit/allsky_synth.py)."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from node_observatory.clouds import SkyModel, classify, estimate_sky_circle, load_image
from node_observatory.clouds.classical import label_for
from tests.unit.allsky_synth import BORDER, CX, CY, RADIUS, make_sky, save_fits16, save_jpeg, sky_geometry


def true_model() -> SkyModel:
    _, _, visible = sky_geometry()
    return SkyModel(CX, CY, RADIUS, mask=visible)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    base = tmp_path_factory.mktemp("clouds")
    out = {}
    clear, _ = make_sky(seed=2)
    out["clear"] = (save_jpeg(clear, base / "clear.jpg"), 0.0)
    for coverage, seed in ((0.3, 3), (0.6, 4), (0.95, 5)):
        image, truth = make_sky(seed=seed, coverage=coverage)
        out[coverage] = (save_fits16(image, base / f"cover{coverage}.fits"), truth)
    moon, _ = make_sky(seed=6, moon=True)
    out["moon"] = (save_jpeg(moon, base / "moon.jpg"), 0.0)
    return out


def test_sky_circle_found_within_a_few_pixels(frames):
    circle = estimate_sky_circle([load_image(frames["clear"][0])])
    assert circle.method == "fit"
    assert abs(circle.cx - CX) < 3 and abs(circle.cy - CY) < 3 and abs(circle.radius - RADIUS) < 4


def test_clear_sky_is_clear(frames):
    result = classify(load_image(frames["clear"][0]), true_model())
    assert result.label == "clear", result
    assert result.cloud_fraction < 0.15 and result.stars_detected > 300
    assert result.detector == "classical" and result.reason is None


@pytest.mark.parametrize("coverage, label", [(0.3, "partly"), (0.6, "cloudy"), (0.95, "overcast")])
def test_cloud_fraction_tracks_the_truth(frames, coverage, label):
    path, truth = frames[coverage]
    result = classify(load_image(path), true_model())
    assert abs(result.cloud_fraction - truth) <= 0.15, (result.cloud_fraction, truth)
    assert result.label == label
    assert len(result.regions) == 17
    region = result.regions[0]
    assert set(region) >= {"alt_min", "alt_max", "az_min", "az_max", "cloud_fraction", "stars"}


def test_moon_on_a_clear_sky_is_not_cloud(frames):
    result = classify(load_image(frames["moon"][0]), true_model())
    assert result.label == "clear", result.cloud_fraction
    mx, my = true_model().pixel_of(50.0, 140.0)
    assert result.moon is not None and math.hypot(result.moon["x"] - mx, result.moon["y"] - my) < 15
    assert any(r["cloud_fraction"] is None for r in result.regions)  # the glare is not judged


def test_estimated_circle_works_as_well_as_the_true_one(frames):
    image = load_image(frames[0.6][0])
    circle = estimate_sky_circle([image])
    guessed = classify(image, SkyModel(circle.cx, circle.cy, circle.radius, mask=circle.mask))
    assert abs(guessed.cloud_fraction - frames[0.6][1]) <= 0.15


@pytest.mark.parametrize("kind, words", [("daylight", "daylight"), ("blank", "blank"),
                                         ("saturated", "saturated")])
def test_unjudgeable_frames_are_unknown_with_a_reason(kind, words):
    _, _, visible = sky_geometry()
    rng = np.random.default_rng(7)
    if kind == "daylight":
        image = np.where(visible, 200.0, BORDER) + rng.normal(0, 2, visible.shape)
    elif kind == "blank":
        image = np.full(visible.shape, 17.0)
    else:
        image = np.where(visible, 255.0, BORDER)
    result = classify(np.clip(image, 0, 255).astype(np.uint8), true_model())
    assert result.label == "unknown" and result.cloud_fraction is None
    assert words in result.reason


def test_very_short_exposure_is_daylight():
    _, _, visible = sky_geometry()
    image = np.where(visible, 60, 2).astype(np.uint8)
    image = image + np.random.default_rng(8).integers(0, 6, image.shape, dtype=np.uint8)
    result = classify(image, true_model(), exposure_s=0.0005)
    assert result.label == "unknown" and "daylight" in result.reason


def test_labels_follow_the_thresholds():
    assert [label_for(f) for f in (0.0, 0.149, 0.15, 0.49, 0.5, 0.84, 0.85, 1.0)] == \
        ["clear", "clear", "partly", "partly", "cloudy", "cloudy", "overcast", "overcast"]


def test_the_callers_frame_is_left_alone_and_results_repeat(frames):
    image = load_image(frames[0.3][0])
    before = image.data.copy()
    first = classify(image, true_model())
    second = classify(image, true_model())
    assert np.array_equal(image.data, before)
    assert first == second


@pytest.mark.parametrize("moon_alt, halo_px", [(75.0, 80.0), (30.0, 50.0)])
def test_a_wide_moon_halo_is_left_out_not_called_cloud(moon_alt, halo_px):
    image, _ = make_sky(seed=11, moon=True, moon_alt=moon_alt, halo_px=halo_px)
    result = classify(np.round(image).astype(np.uint8), true_model())
    assert result.moon is not None and result.label == "clear", result.cloud_fraction


def test_no_visible_sky_is_unknown():
    image, _ = make_sky(seed=12)
    result = classify(image.astype(np.uint8), SkyModel(-5000.0, -5000.0, 100.0))
    assert result.label == "unknown" and "no visible sky" in result.reason


def test_regions_all_in_the_moon_glare_are_unknown():
    image, _ = make_sky(seed=13, moon=True, moon_alt=85.0, halo_px=60.0)
    result = classify(np.round(image).astype(np.uint8), true_model(), min_altitude=65.0)
    assert result.label == "unknown" and "Moon" in result.reason
    assert all(r["cloud_fraction"] is None for r in result.regions)


def test_a_mask_of_another_size_is_refused():
    image, _ = make_sky(seed=14)
    with pytest.raises(ValueError, match="mask"):
        classify(image, SkyModel(CX, CY, RADIUS, mask=np.ones((10, 10), dtype=bool)))


def test_sep_pixel_buffer_overflow_is_handled(monkeypatch):
    import sep

    image, truth = make_sky(seed=15, coverage=0.3)
    default = sep.get_extract_pixstack()
    sep.set_extract_pixstack(2000)  # far too small for this frame
    try:
        result = classify(np.round(image * 256).astype(np.uint16), true_model())
        assert sep.get_extract_pixstack() == 2000  # restored afterwards
    finally:
        sep.set_extract_pixstack(default)
    assert result.label in ("partly", "cloudy") and result.stars_detected > 100


def test_large_frames_are_binned_and_result_dicts_serialise():
    image, _ = make_sky(seed=16)
    big = np.kron(np.round(image).astype(np.uint8), np.ones((3, 3), dtype=np.uint8))  # 2700 x 2100
    model = SkyModel(CX * 3 + 1, CY * 3 + 1, RADIUS * 3, mask=np.kron(sky_geometry()[2], np.ones((3, 3), dtype=bool)))
    result = classify(big, model)
    assert result.label == "clear"
    assert result.to_dict()["detector"] == "classical"


@functools.cache
def _clear_night_density() -> float:
    clear, _ = make_sky(seed=36)
    return classify(np.round(clear).astype(np.uint8), true_model()).clear_density


@pytest.mark.parametrize("coverage, seed", [(0.3, 33), (0.6, 34), (0.95, 35)])
def test_dark_clouds_with_the_cameras_clear_sky_reference(coverage, seed):
    """Clouds no brighter than the sky: only missing stars tell. Measured against a density
    recorded on a clear night of the same camera, the fraction tracks the truth."""
    reference = _clear_night_density()
    image, truth = make_sky(seed=seed, coverage=coverage, cloud_light=0.0)
    result = classify(np.round(image).astype(np.uint8), true_model(), reference_density=reference)
    assert abs(result.cloud_fraction - truth) <= 0.15, (result.cloud_fraction, truth)


def test_a_starless_sky_is_overcast():
    image, _ = make_sky(seed=18, stars=0)
    assert classify(np.round(image).astype(np.uint8), true_model()).label == "overcast"


def test_a_saturated_planet_is_not_taken_for_the_moon():
    image, _ = make_sky(seed=19)
    x, y = true_model().pixel_of(60.0, 300.0)
    image[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3] = 255.0
    result = classify(np.round(image).astype(np.uint8), true_model())
    assert result.moon is None and result.label == "clear"


def test_a_sky_disc_partly_outside_the_frame_has_fewer_regions():
    image, _ = make_sky(seed=20)
    result = classify(np.round(image).astype(np.uint8), SkyModel(CX, CY + 250, RADIUS))
    assert 0 < len(result.regions) < 17


def test_unexpected_sep_errors_are_not_swallowed(monkeypatch):
    import sep

    def broken(*args, **kwargs):
        raise Exception("internal error")
    monkeypatch.setattr(sep, "extract", broken)
    image, _ = make_sky(seed=21)
    with pytest.raises(Exception, match="internal error"):
        classify(np.round(image).astype(np.uint8), true_model())


def test_arrays_that_are_not_images_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        classify(np.zeros(100), true_model())
    with pytest.raises(ValueError, match="colour planes"):
        classify(np.zeros((5, 50, 50)), true_model())
