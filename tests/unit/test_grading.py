"""grade_image on synthetic star fields with a known truth; grade_accept's defaults."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from master import grading
from master.grading import GradeResult, grade_accept, grade_image

_erf = np.frompyfunc(math.erf, 1, 1)


def _pixel_fraction(offsets: np.ndarray, sigma: float) -> np.ndarray:
    """Fraction of a 1-D Gaussian falling in each pixel (pixels integrate light; they do not sample it)."""
    upper = _erf((offsets + 0.5) / (sigma * math.sqrt(2))).astype(float)
    lower = _erf((offsets - 0.5) / (sigma * math.sqrt(2))).astype(float)
    return 0.5 * (upper - lower)


def star_field(shape=(3072, 4096), n=300, fwhm=4.7, sky=1000.0, noise=10.0, seed=1,
               flux=(3000.0, 30000.0), elongation=1.0) -> np.ndarray:
    """uint16 frame with ``n`` Gaussian stars on a jittered grid (no two overlap), sky and noise.

    ``elongation`` stretches the stars along x (FWHM_x = elongation * fwhm).
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    sigma_y = fwhm / (2 * math.sqrt(2 * math.log(2)))
    sigma_x = sigma_y * elongation
    image = rng.normal(sky, noise, shape).astype(np.float32)
    cols = math.ceil(math.sqrt(n * w / h))
    rows = math.ceil(n / cols)
    cells = rng.permutation(rows * cols)[:n]
    ys = (cells // cols + 0.5 + rng.uniform(-0.2, 0.2, n)) * h / rows
    xs = (cells % cols + 0.5 + rng.uniform(-0.2, 0.2, n)) * w / cols
    r = math.ceil(5 * max(sigma_x, sigma_y))
    offsets = np.arange(-r, r + 1)
    for x, y, f in zip(xs, ys, rng.uniform(*flux, n)):
        xi, yi = round(x), round(y)
        py = _pixel_fraction(offsets + yi - y, sigma_y)
        px = _pixel_fraction(offsets + xi - x, sigma_x)
        image[yi - r:yi + r + 1, xi - r:xi + r + 1] += f * np.outer(py, px)
    return np.clip(image, 0, 65535).astype(np.uint16)


def bench_frame() -> np.ndarray:
    """The 4096x3072 frame the timing note in master/grading.py refers to."""
    return star_field()


# Pixel integration widens a Gaussian star by 1/12 px^2 of variance: that is the FWHM the frame shows.
def observed_fwhm(fwhm: float) -> float:
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    return 2 * math.sqrt(2 * math.log(2)) * math.sqrt(sigma ** 2 + 1 / 12)


@pytest.fixture(scope="module")
def field():
    return star_field(shape=(1024, 1024), n=120, fwhm=4.0, seed=7)


def test_counts_and_measures_a_star_field(field):
    grade = grade_image(field)
    assert isinstance(grade, GradeResult)
    assert abs(grade.star_count - 120) <= 3
    assert grade.fwhm_px == pytest.approx(observed_fwhm(4.0), rel=0.10)
    assert grade.fwhm_px == pytest.approx(4.0, rel=0.10)
    # For a Gaussian the half-flux radius is half the FWHM.
    assert grade.hfr_px == pytest.approx(observed_fwhm(4.0) / 2, rel=0.10)
    assert grade.eccentricity < 0.3
    assert grade.background == pytest.approx(1000.0, abs=2.0)
    assert grade.noise == pytest.approx(10.0, rel=0.1)


@pytest.mark.parametrize("fwhm", [2.5, 7.0])
def test_fwhm_within_ten_percent(fwhm):
    grade = grade_image(star_field(shape=(1024, 1024), n=100, fwhm=fwhm, seed=11, flux=(8000, 40000)))
    assert grade.fwhm_px == pytest.approx(observed_fwhm(fwhm), rel=0.10)
    assert abs(grade.star_count - 100) <= 3


def test_elongated_stars():
    grade = grade_image(star_field(shape=(1024, 1024), n=100, fwhm=4.0, elongation=1.5, seed=3))
    assert grade.eccentricity == pytest.approx(math.sqrt(1 - 1 / 1.5 ** 2), abs=0.08)


def test_noise_only_frame_has_no_stars():
    rng = np.random.default_rng(5)
    grade = grade_image(rng.normal(1000, 10, (1024, 1024)).astype(np.uint16))
    assert grade.star_count <= 1
    assert grade.hfr_px is None and grade.fwhm_px is None and grade.eccentricity is None
    assert grade.noise == pytest.approx(10.0, rel=0.1)


def test_hot_pixels_and_pairs_are_not_stars(field):
    rng = np.random.default_rng(3)
    noisy = field.astype(np.int64)
    ys, xs = rng.integers(2, 1020, 300), rng.integers(2, 1020, 300)
    amplitude = rng.integers(300, 20000, 300)
    noisy[ys, xs] += amplitude
    noisy[ys[:150], xs[:150] + 1] += amplitude[:150] // 2      # half of them with a hot neighbour
    grade = grade_image(np.clip(noisy, 0, 65535).astype(np.uint16))
    assert abs(grade.star_count - 120) <= 5
    assert grade.fwhm_px == pytest.approx(observed_fwhm(4.0), rel=0.10)


def test_saturated_stars_do_not_bias_shapes():
    frame = star_field(shape=(1024, 1024), n=100, fwhm=4.0, seed=7, flux=(3000, 3e6))
    assert (frame == 65535).sum() > 100
    grade = grade_image(frame)
    assert grade.fwhm_px == pytest.approx(observed_fwhm(4.0), rel=0.10)


def test_sky_gradient_and_odd_size():
    frame = star_field(shape=(1023, 1537), n=100, fwhm=4.0, seed=9).astype(np.float32)
    yy, xx = np.mgrid[0:1023, 0:1537]
    grade = grade_image((frame + 0.6 * xx + 0.4 * yy).astype(np.uint16))
    assert abs(grade.star_count - 100) <= 3
    assert grade.fwhm_px == pytest.approx(observed_fwhm(4.0), rel=0.10)


def test_flat_frame_does_not_fail():
    grade = grade_image(np.full((200, 300), 500, dtype=np.uint16))
    assert grade.star_count == 0 and grade.noise == 0 and grade.background == pytest.approx(500)


def test_float_data_with_nans_and_big_endian():
    frame = star_field(shape=(512, 512), n=40, fwhm=4.0, seed=2).astype(">f4")
    frame[:20, :] = np.nan
    grade = grade_image(frame)
    assert abs(grade.star_count - 40) <= 3
    assert grade.fwhm_px == pytest.approx(observed_fwhm(4.0), rel=0.10)


def test_colour_cube_is_graded_as_mono():
    mono = star_field(shape=(512, 512), n=40, fwhm=4.0, seed=2)
    grade = grade_image(np.stack([mono, mono, mono]))
    assert abs(grade.star_count - 40) <= 3


def test_small_frame():
    grade = grade_image(star_field(shape=(100, 120), n=4, fwhm=3.0, seed=4, flux=(20000, 30000)))
    assert grade.star_count == 4
    assert grade.fwhm_px == pytest.approx(observed_fwhm(3.0), rel=0.15)


def test_rejects_non_images():
    with pytest.raises(ValueError):
        grade_image(np.zeros(10))


def meta(frame_type):
    return SimpleNamespace(frame_type=frame_type)


def good(**changes):
    values = dict(star_count=200, hfr_px=2.1, fwhm_px=4.0, eccentricity=0.2, background=1000.0, noise=10.0)
    values.update(changes)
    return GradeResult(**values)


def test_accepts_a_good_light():
    assert grade_accept(good(), meta("light")) == (True, None)


@pytest.mark.parametrize("grade, fragment", [
    (good(star_count=3), "only 3 stars"),
    (good(hfr_px=None), "HFR"),
    (good(hfr_px=15.0), "HFR 15.00 px"),
    (good(hfr_px=0.3), "HFR 0.30 px"),
    (None, "could not be graded"),
])
def test_rejects_bad_lights(grade, fragment):
    accepted, reason = grade_accept(grade, meta("light"))
    assert not accepted and fragment in reason


@pytest.mark.parametrize("kind", ["dark", "flat", "bias", "dark_flat", "unknown"])
def test_non_lights_are_always_accepted(kind):
    assert grade_accept(good(star_count=0, hfr_px=None), meta(kind)) == (True, None)


def test_thresholds_are_adjustable():
    assert grade_accept(good(star_count=30), meta("light"), min_stars=50)[0] is False
    assert grade_accept(good(hfr_px=14.0), meta("light"), hfr_range=(0.5, 20.0)) == (True, None)


OVERFLOW = "internal pixel buffer full: The limit of 300000 active object pixels over the detection threshold"


class _FailingExtract:
    """Stands in for sep.extract: raises ``Exception(message)`` for each of ``failures``, then detects."""

    def __init__(self, real, failures):
        self.real, self.failures, self.calls = real, list(failures), []

    def __call__(self, data, thresh, **kwargs):
        self.calls.append((thresh, grading.sep.get_extract_pixstack()))
        if len(self.calls) <= len(self.failures):
            raise Exception(self.failures[len(self.calls) - 1])
        return self.real(data, thresh, **kwargs)


@pytest.mark.parametrize("overflows, low, high", [(1, 38, 40), (2, 30, 40), (3, 0, 0)])
def test_pixel_buffer_overflow_retries_with_a_bigger_buffer(monkeypatch, overflows, low, high):
    # 1: a bigger buffer suffices; 2: the threshold goes up 3x, faint stars are lost; 3: no stars at all.
    frame = star_field(shape=(512, 512), n=40, fwhm=4.0, seed=2)
    fake = _FailingExtract(grading.sep.extract, [OVERFLOW] * overflows)
    monkeypatch.setattr(grading.sep, "extract", fake)
    default = grading.sep.get_extract_pixstack()
    grade = grade_image(frame)
    assert low <= grade.star_count <= high
    assert fake.calls[0][1] == default and fake.calls[1][1] == grading.BIG_PIXSTACK
    assert grading.sep.get_extract_pixstack() == default          # restored for everyone else


@pytest.mark.parametrize("failures", [["something else"], [OVERFLOW, "something else"]])
def test_other_sep_errors_are_not_hidden(monkeypatch, failures):
    monkeypatch.setattr(grading.sep, "extract", _FailingExtract(grading.sep.extract, failures))
    default = grading.sep.get_extract_pixstack()
    with pytest.raises(Exception, match="something else"):
        grade_image(star_field(shape=(256, 256), n=10, fwhm=4.0, seed=2))
    assert grading.sep.get_extract_pixstack() == default


def test_only_faint_stars_are_counted_but_not_measured():
    # Peaks of 7-9 sigma: detected (5 sigma) but below the 10 sigma asked of a star to be measured.
    grade = grade_image(star_field(shape=(512, 512), n=30, fwhm=4.0, seed=6, flux=(1300, 1700)))
    assert grade.star_count > 10
    assert grade.hfr_px is None and grade.fwhm_px is None


def test_shapes_of_empty_stamps_are_unknown():
    stars = np.zeros(3, dtype=[("x", "f8"), ("y", "f8"), ("a", "f8"), ("b", "f8")])
    stars["x"], stars["y"], stars["a"], stars["b"] = 20.0, 20.0, 1.5, 1.5
    assert grading._shapes(np.zeros((40, 40), np.float32), stars, 6) == (None, None, None)
