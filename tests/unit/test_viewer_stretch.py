"""Display levels and stretches, checked against astropy.visualization on the same data."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.visualization import (AsinhStretch, LinearStretch, LogStretch, ManualInterval, PercentileInterval,
                                   ZScaleInterval)

from master.viewer import stretch


@pytest.fixture(scope="module")
def sky():
    """A 1000 ADU sky with 10 ADU noise, a few bright stars' worth of outliers and a gradient."""
    rng = np.random.default_rng(7)
    image = rng.normal(1000.0, 10.0, (600, 800)).astype(np.float32)
    image += np.linspace(0, 30, 800, dtype=np.float32)[None, :]
    image.flat[rng.integers(0, image.size, 400)] = rng.uniform(2000, 60000, 400)
    return image


def astropy_grey(values, curve, black, white):
    normalised = ManualInterval(black, white)(values.astype(np.float64), clip=True)
    return np.floor(curve(normalised, clip=True) * 255.0 + 0.5).astype(int)


@pytest.mark.parametrize("name, curve", [("linear", LinearStretch()), ("log", LogStretch()),
                                         ("asinh", AsinhStretch())])
def test_stretches_match_astropy(sky, name, curve):
    black, white = 985.0, 1200.0
    ours = stretch.render(sky, name, black, white).astype(int)
    theirs = astropy_grey(sky, curve, black, white)
    # float32 here, float64 there: a value right on a rounding edge may land one grey level apart.
    assert np.abs(ours - theirs).max() <= 1
    assert np.mean(ours != theirs) < 0.01
    assert ours.min() == 0 and ours.max() == 255


def test_the_stretches_differ_from_each_other(sky):
    linear, log = (stretch.render(sky, name, 985.0, 1200.0) for name in ("linear", "log"))
    assert np.mean(log) > np.mean(linear) + 40  # log lifts the faint sky


def test_zscale_percentile_and_minmax_levels_match_astropy(sky):
    sample = stretch.sample_of(sky)
    levels = stretch.levels(sample)
    assert levels["zscale"] == pytest.approx(list(ZScaleInterval().get_limits(sample)))
    for p in stretch.PERCENTILES:
        assert levels[f"p{p:g}"] == pytest.approx(list(PercentileInterval(p).get_limits(sample)), rel=1e-6)
    assert levels["minmax"] == [float(sky.min()), float(sky.max())]


def test_levels_from_the_sample_describe_the_full_frame():
    rng = np.random.default_rng(3)
    big = rng.normal(500.0, 20.0, (3000, 4000)).astype(np.float32)
    sample = stretch.sample_of(big)
    assert 0.5e6 <= sample.size <= 1e6
    low, high = stretch.levels(sample)["zscale"]
    full_low, full_high = ZScaleInterval().get_limits(big)
    # ZScale itself looks at only 1000 pixels, so two runs differ by a few tenths of sigma anyway.
    assert abs(low - full_low) < 10.0 and abs(high - full_high) < 10.0  # half a sigma


def test_nan_and_infinities_are_black_and_skipped_by_the_levels():
    values = np.array([np.nan, np.inf, -np.inf, 5.0, 10.0], dtype=np.float32)
    assert stretch.render(values, "linear", 0.0, 10.0).tolist() == [0, 0, 0, 128, 255]
    sample = stretch.sample_of(values.reshape(1, -1))
    assert sample.tolist() == [5.0, 10.0]
    assert stretch.levels(sample)["minmax"] == [5.0, 10.0]


def test_integer_data_is_not_wrapped():
    values = np.array([[0, 1000, 65535]], dtype=np.uint16)
    assert stretch.render(values, "linear", 1000.0, 65535.0).tolist() == [[0, 0, 255]]


@pytest.mark.parametrize("name, black, white", [("gamma", 0.0, 1.0), ("linear", 1.0, 1.0), ("linear", 2.0, 1.0),
                                                ("log", float("nan"), 1.0), ("asinh", 0.0, float("inf"))])
def test_bad_settings_are_refused(name, black, white):
    with pytest.raises(ValueError):
        stretch.render(np.zeros((2, 2)), name, black, white)


def test_histogram_spans_the_bulk_of_the_data(sky):
    sample = stretch.sample_of(sky)
    hist = stretch.histogram(sample)
    assert len(hist["counts"]) == stretch.HISTOGRAM_BINS
    assert hist["lo"] == pytest.approx(np.percentile(sample, 0.05))
    assert hist["hi"] == pytest.approx(np.percentile(sample, 99.95))
    assert sum(hist["counts"]) >= 0.998 * sample.size
    assert stretch.histogram(np.zeros(0, np.float32))["counts"] == [0] * stretch.HISTOGRAM_BINS


def test_a_flat_image_gets_levels_it_can_be_drawn_with():
    for sample in (np.full(1000, 300.0, np.float32), np.zeros(0, np.float32)):
        for low, high in stretch.levels(sample).values():
            assert high == low + 1.0
            stretch.check("linear", low, high)
