"""The target page's plots: the geometry says what the sky does (transit at the curve's top, airmass
where the formula puts it, the right months, the field of view to scale), and the page draws them."""
from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from master.models import Camera, Site as SiteRow, Target, Telescope, TelescopeNode
from master.planning.sky import NightSky, Site
from master.target_sky import best_months, target_tonight
from master.web.target_plots import (CHART_H, TOP, _airmass_alt, alt_y, framing_plot, months_plot, mosaic,
                                     tonight_plot)

PARIS = Site(48.5, 2.25, 120.0)
NIGHT = date(2026, 12, 1)
ZONE = ZoneInfo("Europe/Paris")
M31, M42 = (10.6847, 41.2691), (83.8221, -5.3911)


def points(svg_points: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in svg_points.split()])


@pytest.fixture(scope="module")
def fine_sky():
    return NightSky(PARIS, NIGHT, step_min=3.0)


@pytest.mark.parametrize("ra, dec", [M31, M42])
def test_transit_is_where_the_altitude_curve_peaks(ra, dec, fine_sky):
    tonight = target_tonight(PARIS, NIGHT, ra, dec)
    fine = fine_sky.target(ra, dec)  # astropy's AltAz, independently of the transit
    peak = fine_sky.times[int(np.argmax(fine.alt))]
    assert abs((peak - tonight.transit).total_seconds()) <= 150
    assert tonight.transit_alt == pytest.approx(fine.alt.max(), abs=0.1)
    plot = tonight_plot(tonight, ZONE)
    curve = points(plot.curve)
    top = curve[np.argmin(curve[:, 1])]  # SVG y grows downwards
    assert abs(top[0] - plot.transit_x) <= (plot.right - plot.left) / len(curve) * 1.01
    assert top[1] == pytest.approx(float(alt_y(tonight.transit_alt)), abs=0.5)
    assert plot.transit_label == f"transit {tonight.transit.astimezone(ZONE):%H:%M}"


def test_twilight_bands_cover_the_chart_in_order_and_the_moon_is_drawn():
    plot = tonight_plot(target_tonight(PARIS, NIGHT, *M31), ZONE)
    levels = [level for _, _, level in plot.bands]
    assert levels[0] == "day" and levels[-1] == "day" and "night" in levels
    middle = levels[levels.index("night") - 3:levels.index("night") + 1]
    assert middle == ["civil", "nautical", "astronomical", "night"]
    assert plot.bands[0][0] == plot.left and sum(w for _, w, _ in plot.bands) == pytest.approx(plot.right - plot.left, abs=1)
    assert len(points(plot.moon)) == len(points(plot.curve))
    assert [label for _, label in plot.ticks][:3] == ["17h", "18h", "19h"]  # local time from an hour before sunset
    assert all(label.endswith("°") for _, label in plot.separations) and plot.separations


def test_airmass_axis_sits_at_the_altitudes_of_those_airmasses():
    # Kasten & Young's airmass is 0.9997 at the zenith and reaches 1 at 88.6°; sec z = 2 at 30°, K&Y a shade lower.
    assert _airmass_alt(1.0) == pytest.approx(88.6, abs=0.1)
    assert _airmass_alt(2.0) == pytest.approx(29.9, abs=0.2)
    plot = tonight_plot(target_tonight(PARIS, NIGHT, *M31), ZONE)
    ticks = dict((label, y) for y, label in plot.airmass_ticks)
    assert ticks["1"] == pytest.approx(TOP + CHART_H * (1 - 88.6 / 90), abs=0.5)
    assert ticks["2"] == pytest.approx(TOP + CHART_H * (1 - 29.9 / 90), abs=0.5)


def test_horizon_mask_is_drawn_along_the_targets_path():
    walled = Site(48.5, 2.25, 120.0, ((0.0, 20.0), (180.0, 20.0)))
    plot = tonight_plot(target_tonight(walled, NIGHT, *M42), ZONE)
    ys = points(plot.horizon)[1:-1, 1]
    assert ys == pytest.approx(float(alt_y(20.0)), abs=0.6)
    assert tonight_plot(target_tonight(PARIS, NIGHT, *M42), ZONE).horizon == ""


def test_tonight_agrees_with_the_planners_astropy_sky(fine_sky):
    """The page's cheaper sky (hourly places, hour-angle altitudes) against the planner's NightSky."""
    tonight = target_tonight(PARIS, NIGHT, *M31)
    planner = NightSky(PARIS, NIGHT)
    assert tonight.sky.times == planner.times
    assert np.abs(tonight.sky.sun_alt - planner.sun_alt).max() < 0.1
    assert np.abs(tonight.sky.moon_alt - planner.moon_alt).max() < 0.1
    assert np.abs(tonight.sky.moon_illumination - planner.moon_illumination).max() < 0.01
    assert (tonight.sky.dark() == planner.dark()).mean() > 0.98  # at most a slot at each twilight's edge
    expected = planner.target(*M31)
    track = tonight.track
    assert np.abs(track.alt - expected.alt).max() < 0.05
    assert np.abs((track.az - expected.az + 180) % 360 - 180)[expected.alt < 85].max() < 0.1
    assert np.abs(track.moon_separation - expected.moon_separation).max() < 0.3
    assert np.allclose(track.airmass, expected.airmass, rtol=2e-3)


def test_best_months_follow_the_targets_right_ascension():
    m31 = best_months(PARIS, 2026, *M31)
    assert {m.month for m in m31 if m.best} <= {8, 9, 10, 11, 12, 1} and m31[9].best  # October
    assert m31[4].dark_hours < 2 < m31[9].dark_hours  # May: short nights, M 31 low
    # Opposition in early October: midnight near the transit altitude.
    assert m31[9].midnight_alt == pytest.approx(90 - abs(48.5 - 41.27), abs=5)
    m42 = best_months(PARIS, 2026, *M42)
    assert {m.month for m in m42 if m.best} <= {11, 12, 1, 2} and m42[11].best
    south = best_months(PARIS, 2026, 100.0, -70.0)
    assert all(m.dark_hours == 0 and not m.best for m in south)
    plot = months_plot(m31, current_month=12)
    assert [b.label for b in plot.bars] == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                            "Nov", "Dec"]
    tallest = min(plot.bars, key=lambda b: b.y)
    assert tallest.best and plot.bars[11].current and not plot.bars[10].current
    assert all(b.y + b.height == pytest.approx(plot.bottom) for b in plot.bars)


def test_framing_is_to_scale_and_proposes_a_mosaic():
    redcat = (207.0, 138.0)
    plot = framing_plot(redcat, 177.83, 69.66, position_angle=35.0)
    x, y, w, h = plot.rect
    assert w / h == pytest.approx(207 / 138, rel=1e-3)
    assert plot.ellipse[2] * 2 / w == pytest.approx(177.83 / 207, rel=1e-2) and plot.rotation == 55.0
    # Along its PA of 35° M 31 is 151′ north–south: more than the field's 138′, fine with the camera turned.
    assert plot.verdict.startswith("Fits with the camera turned 90°") and plot.panels is None
    assert framing_plot(redcat, 177.83, 69.66).verdict == ("Fits: the target spans 86% of the field's width. "
                                                           "Position angle unknown: drawn east–west.")
    assert x >= 0 and y >= 0 and x + w <= plot.width and y + h <= plot.height
    big = framing_plot((60.0, 40.0), 177.83, 69.66)
    assert big.panels == (4, 2) and "4 × 2 panels" in big.verdict and big.rotation == 0.0
    assert big.ellipse[2] * 2 <= big.width  # the target, not the field, sets the scale
    assert mosaic((50.0, 100.0), (60.0, 40.0)) == (1, 3)
    assert mosaic((30.0, 100.0), (120.0, 40.0)) == (1, 1)  # fits once the camera is turned
    turned = framing_plot((120.0, 40.0), 100.0, 30.0, position_angle=0.0)  # a north–south target
    assert turned.panels is None and turned.verdict.startswith("Fits with the camera turned 90°")
    assert framing_plot(redcat, None, None).ellipse is None


def test_target_page_draws_the_three_plots(services, client):
    with services.sessions() as session:
        site = SiteRow(name="Backyard", latitude_deg=48.5, longitude_deg=2.25, elevation_m=120.0,
                       timezone="Europe/Paris", horizon=[[0, 10], [180, 15]])
        node = TelescopeNode(node_name="scope1", site=site,
                             telescope=Telescope(name="RedCat 51", aperture_mm=51, focal_length_mm=250),
                             camera=Camera(name="ASI2600MM", pixel_size_um=3.76, width_px=6248, height_px=4176))
        target = Target(name="M 31", ra_deg=M31[0], dec_deg=M31[1], size_major_arcmin=177.83, size_minor_arcmin=69.66)
        session.add_all([node, target])
        session.commit()
        target_id = target.id
    page = client.get(f"/targets/{target_id}?date=2026-12-01").data.decode()
    assert 'id="plot-tonight"' in page and 'id="plot-months"' in page and 'id="plot-framing"' in page
    assert re.search(r"Transit \d\d:\d\d at 83°", page) and "The night of 2026-12-01 at Backyard" in page
    assert 'class="horizon"' in page and "Fits: the target spans 55% of the field" in page
    assert "Position angle unknown: drawn east–west." in page
    assert "323′ × 216′ field" in page
    assert "Best months" in page and 'data-month="Oct"' in page
    bad = client.get(f"/targets/{target_id}?date=tomorrow").data.decode()
    assert "is not a date like 2026-12-01" in bad and 'id="plot-tonight"' in bad


def test_target_page_without_site_or_train_says_what_is_missing(services, client):
    with services.sessions() as session:
        target = Target(name="Field", ra_deg=10.0, dec_deg=10.0)
        session.add(target)
        session.commit()
        target_id = target.id
    page = client.get(f"/targets/{target_id}").data.decode()
    assert "Add a site with its latitude and longitude" in page and "to see the framing" in page
    assert 'id="plot-tonight"' not in page


def test_window_starts_an_hour_before_sunset():
    tonight = target_tonight(PARIS, NIGHT, *M31)
    sky = tonight.sky
    first_dark = next(i for i, a in enumerate(sky.sun_alt) if a < 0)
    plot = tonight_plot(tonight, ZONE)
    begin = sky.times[first_dark] - timedelta(hours=1)
    assert plot.ticks[0][1] == f"{(begin + timedelta(hours=1)).astimezone(ZONE):%H}h"
