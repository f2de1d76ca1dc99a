"""Bayer mosaics: pattern from the header, debayering, colour stacks, colour previews, RGB/LRGB composites."""
from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from master.previews import make_previews
from master.processing.calibrate import fix_bad_pixels
from master.processing.colour import ColourError, channel_of, combine_channels
from master.processing.debayer import (PATTERNS, BayerLayout, bayer_layout, channel_masks, colour_phase,
                                       debayer_bilinear, debayer_superpixel)
from master.processing.stack import stack_files, write_stack

from .test_processing_data import camera, write

H, W = 40, 48


def scene() -> np.ndarray:
    """A (3, H, W) scene whose planes are different planes in x and y: bilinear interpolation is exact on it."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([100 + 3 * x + 2 * y, 500 - 1.5 * x + 4 * y, 50 + 0.5 * x - 0.25 * y]).astype(np.float32)


def mosaic_of(rgb: np.ndarray, phase: str) -> np.ndarray:
    """What a sensor whose [0, 0] cell is ``phase`` records of ``rgb``."""
    masks = channel_masks(rgb.shape[1:], phase)
    out = np.zeros(rgb.shape[1:], np.float32)
    for index, colour in enumerate("RGB"):
        out[masks[colour]] = rgb[index][masks[colour]]
    return out


@pytest.mark.parametrize("phase", PATTERNS)
def test_bilinear_debayer_recovers_each_pattern(phase):
    truth = scene()
    out = debayer_bilinear(mosaic_of(truth, phase), phase)
    assert out.shape == (3, H, W) and out.dtype == np.float32
    inner = (slice(None), slice(1, -1), slice(1, -1))    # the edge pixels lack a neighbour on one side
    np.testing.assert_allclose(out[inner], truth[inner], rtol=1e-5)
    masks = channel_masks((H, W), phase)
    for index, colour in enumerate("RGB"):       # measured values are kept, edges included
        np.testing.assert_array_equal(out[index][masks[colour]], truth[index][masks[colour]])
    wrong = next(p for p in PATTERNS if p != phase)
    assert np.abs(debayer_bilinear(mosaic_of(truth, phase), wrong)[inner] - truth[inner]).max() > 10


@pytest.mark.parametrize("phase", PATTERNS)
def test_superpixel_debayer(phase):
    truth = np.stack([np.full((H, W), v, np.float32) for v in (300.0, 200.0, 100.0)])
    out = debayer_superpixel(mosaic_of(truth, phase), phase)
    assert out.shape == (3, H // 2, W // 2)
    np.testing.assert_allclose(out[:, 0, 0], [300.0, 200.0, 100.0])


def test_pattern_from_the_header_with_offsets_and_row_order():
    header = fits.Header({"BAYERPAT": "RGGB"})
    assert bayer_layout(header) == BayerLayout("RGGB")
    assert colour_phase(bayer_layout(header), 100) == "RGGB"
    header["XBAYROFF"] = 1
    assert colour_phase(bayer_layout(header), 100) == "GRBG"
    header["YBAYROFF"] = 1
    assert colour_phase(bayer_layout(header), 100) == "BGGR"
    bottom_up = fits.Header({"BAYERPAT": "RGGB", "ROWORDER": "BOTTOM-UP"})
    assert colour_phase(bayer_layout(bottom_up), 100) == "GBRG"     # the top row is the last one stored
    assert colour_phase(bayer_layout(bottom_up), 101) == "RGGB"     # an odd height: same parity
    assert bayer_layout(fits.Header({"CFAIMAGE": "no"})) is None
    assert bayer_layout(fits.Header({"CFAIMAGE": "gbrg"})).pattern == "GBRG"
    assert bayer_layout(fits.Header({"BAYERPAT": "RGGB", "NAXIS": 3, "NAXIS3": 3})) is None   # already colour


def test_bad_pixels_in_a_mosaic_are_replaced_from_their_own_colour():
    truth = np.stack([np.full((H, W), v, np.float32) for v in (300.0, 200.0, 100.0)])
    mosaic = mosaic_of(truth, "RGGB")
    bad = np.zeros((H, W), bool)
    bad[10, 10] = bad[11, 11] = bad[10, 11] = True       # a red, a blue and a green pixel
    mosaic[bad] = 60000.0
    assert fix_bad_pixels(mosaic, bad, step=2) == 3
    assert (mosaic[10, 10], mosaic[11, 11], mosaic[10, 11]) == (300.0, 100.0, 200.0)


COLOUR = {"R": 1.0, "G": 0.6, "B": 0.3}   # the sky and stars of the simulated field, per colour


def _osc_lights(directory, n=4):
    # stars 4 px wide: a mosaic samples each colour of them fairly (narrower ones alias into colour)
    cam = camera(width=160, height=128, hot_pixel_fraction=0.0, vignetting=0.0, prnu=0.0, seeing_fwhm_arcsec=8.0)
    paths = []
    for i, offset in enumerate([(0.0, 0.0), (3.2, -1.6), (-2.4, 2.6), (1.4, 3.8)][:n]):
        path = write(cam, directory / f"mono_{i}.fits", 70 + i, "light", 60.0, offset_px=offset, minutes=i)
        with fits.open(path) as hdul:
            data, header = hdul[0].data.astype(np.float32), hdul[0].header.copy()
        masks = channel_masks(data.shape, "GRBG")
        pedestal = np.float32(np.median(data)) * 0.2   # a bias-like level that is not coloured
        for colour, factor in COLOUR.items():
            data[masks[colour]] = pedestal + (data[masks[colour]] - pedestal) * factor
        header["BAYERPAT"] = "RGGB"
        header["XBAYROFF"] = 1            # so [0, 0] is green: GRBG
        out = directory / f"osc_{i}.fits"
        fits.PrimaryHDU(data, header).writeto(out)
        paths.append(out)
    return paths


def test_colour_frames_stack_into_rgb_planes(tmp_path):
    result = stack_files(_osc_lights(tmp_path), method="mean", sigma=3.0)
    assert result.data.shape == (3, 128, 160) and result.rejected.shape == result.coverage.shape == (3, 128, 160)
    assert len(result.used) == 4 and not result.failed
    assert result.header["COLORTYP"] == "RGB" and "BAYERPAT" not in result.header
    core = result.data[:, 10:-10, 10:-10]
    above = core - np.median(core, axis=(1, 2), keepdims=True)
    # interpolation moves flux between neighbours, not between colours: compare the planes' totals
    ratios = [float(np.sum(above[c]) / np.sum(above[0])) for c in range(3)]
    np.testing.assert_allclose(ratios, [1.0, 0.6, 0.3], atol=0.03)
    path = write_stack(result, tmp_path / "stack.fits")
    with fits.open(path) as hdul:
        assert hdul[0].data.shape == (3, 128, 160) and hdul["REJECTED"].data.shape == (3, 128, 160)


def test_a_monochrome_frame_is_left_out_of_a_colour_stack(tmp_path):
    paths = _osc_lights(tmp_path, 3)
    mono = tmp_path / "mono_1.fits"
    result = stack_files(paths + [mono])
    assert [(p.name, reason) for p, reason in result.failed] == [("mono_1.fits", "a monochrome frame in a colour stack")]


def test_colour_previews_are_rgb():
    truth = np.stack([np.full((H, W), v, np.float32) for v in (300.0, 200.0, 100.0)])
    truth += np.random.default_rng(1).normal(0, 5, truth.shape).astype(np.float32)
    truth[:, 20:22, 20:22] += np.array([5000.0, 100.0, 100.0], np.float32)[:, None, None]   # a red star
    for image, phase, star in ((mosaic_of(truth, "BGGR"), "BGGR", (10, 10)), (truth, None, (20, 20))):
        thumb, preview = make_previews(image, phase)
        picture = Image.open(io.BytesIO(preview))
        assert picture.mode == "RGB" and picture.size == ((W // 2, H // 2) if phase else (W, H))
        pixels = np.asarray(picture).astype(int)
        r, g, b = pixels[star]
        assert r == 255 and r > g + 50 and r > b + 50               # the star is red in the preview
        sky_levels = np.median(pixels.reshape(-1, 3), axis=0)
        assert np.ptp(sky_levels) < 20                              # and the sky grey
    assert Image.open(io.BytesIO(make_previews(truth[0])[1])).mode == "L"


def _star_field(shift=(0.0, 0.0), scale=1.0, seed=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:120, 0:150].astype(np.float32)
    stars = np.random.default_rng(0).uniform([10, 10, 2000], [140, 110, 20000], (40, 3))
    image = np.full((120, 150), 100.0, np.float32)
    for sx, sy, flux in stars:
        image += flux / 12.0 * np.exp(-((x - sx - shift[0]) ** 2 + (y - sy - shift[1]) ** 2) / 4.0)
    return (image - 100) * scale + 100 + rng.normal(0, 2, image.shape).astype(np.float32)


def test_rgb_and_lrgb_composites_are_registered_to_each_other():
    stacks = {"R": _star_field((0, 0), 1.0, 1), "G": _star_field((3.0, -2.0), 0.5, 2), "B": _star_field((-1.5, 4.0), 0.25, 3)}
    rgb = combine_channels(stacks)
    assert rgb.kind == "RGB" and rgb.reference == "R" and rgb.rgb.shape == (3, 120, 150)
    assert rgb.shifts["G"] == pytest.approx((-3.0, 2.0), abs=0.1)
    core = rgb.rgb[:, 10:-10, 10:-10]
    peak = np.unravel_index(np.argmax(core[0]), core[0].shape)
    assert [np.unravel_index(np.argmax(core[c]), core[c].shape) for c in (1, 2)] == [peak, peak]
    np.testing.assert_allclose(core[:, peak[0], peak[1]] / core[0][peak], [1.0, 0.5, 0.25], atol=0.05)
    lrgb = combine_channels({**stacks, "L": _star_field((1.0, 1.0), 2.0, 4)})
    assert lrgb.kind == "LRGB" and lrgb.reference == "L"
    luminance = _star_field((1.0, 1.0), 2.0, 4) - 100
    star = np.unravel_index(np.argmax(luminance), luminance.shape)
    assert lrgb.rgb[:, star[0], star[1]].mean() == pytest.approx(luminance[star], rel=0.02)
    with pytest.raises(ColourError, match="missing B"):
        combine_channels({"R": stacks["R"], "G": stacks["G"]})
    one_shot = combine_channels({"RGB": np.stack([stacks["R"], stacks["R"] * 0.5, stacks["R"] * 0.2])})
    assert one_shot.shifts == {"R": (0.0, 0.0), "G": (0.0, 0.0), "B": (0.0, 0.0)}


def test_filter_names_map_to_channels():
    assert [channel_of(n) for n in ("Red", "G", " blue ", "Lum", "L", "Ha", None)] == ["R", "G", "B", "L", "L", None,
                                                                                         None]


def test_a_live_stack_of_colour_frames_is_a_running_mean_of_rgb_planes(tmp_path):
    from master.processing.running_mean import RunningMean

    paths = _osc_lights(tmp_path)
    cubes = []
    for path in paths:
        with fits.open(path) as hdul:
            layout = bayer_layout(hdul[0].header)
            cubes.append(debayer_bilinear(hdul[0].data, colour_phase(layout, hdul[0].data.shape[0])))
    state = RunningMean.first(cubes[0])
    for cube in cubes[1:]:
        state.add(cube)
    state = RunningMean.from_bytes(state.to_bytes())
    assert state.mean.shape == (3, 128, 160) and state.coverage.shape == (128, 160) and state.n_frames == 4
    reference = stack_files(paths, sigma=None)     # the same frames, registered the same way
    core = (slice(None), slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(state.mean[core], reference.data[core], rtol=1e-4, atol=0.05)
    with pytest.raises(ValueError, match="does not fit"):
        state.add(cubes[0][0])                     # a monochrome frame in a colour stack


def test_colour_command_on_stack_files(tmp_path):
    from click.testing import CliRunner

    from master.processing.cli import process_group

    for name, shift, scale in (("R", (0, 0), 1.0), ("G", (2.0, 1.0), 0.6), ("B", (-1.0, 2.5), 0.3)):
        fits.PrimaryHDU(_star_field(shift, scale)).writeto(tmp_path / f"{name}.fits")
    args = ["colour", "--r", str(tmp_path / "R.fits"), "--g", str(tmp_path / "G.fits"), "--b", str(tmp_path / "B.fits"),
            "--out", str(tmp_path / "rgb.png"), "--fits", str(tmp_path / "rgb.fits")]
    result = CliRunner().invoke(process_group, args)
    assert result.exit_code == 0, result.output
    assert "RGB image written" in result.output and "G by (-2.0, -1.0) px" in result.output
    assert Image.open(tmp_path / "rgb.png").mode == "RGB" and fits.getdata(tmp_path / "rgb.fits").shape == (3, 120, 150)
    missing = CliRunner().invoke(process_group, args[:5] + ["--out", str(tmp_path / "x.png")])
    assert missing.exit_code != 0 and "missing B" in missing.output
