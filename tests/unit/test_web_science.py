"""The photometry pages: start a run, see its light curve as SVG, download its products."""
from __future__ import annotations

import re

import pytest

from common import names
from master.models import PhotometryRun
from master.science.products import store_product
from master.science.run_request import RequestError, parse_aperture, parse_comparisons
from master.web.lightcurve_plot import lightcurve_plot
from tests.unit.test_web_support import add_frame, add_user, login, make_app

CSV = """bjd_tdb,jd_utc,mag,mag_err,rel_flux,rel_flux_err,airmass,check_mag,good,flags,frame
2460000.50000000,2460000.49920000,12.10000,0.01000,0.5,0.005,1.2,,1,,1:a.fits
2460000.51000000,2460000.50920000,12.30000,0.01000,0.4,0.004,1.2,,1,,2:b.fits
2460000.52000000,2460000.51920000,12.90000,0.02000,0.2,0.004,1.3,,0,target:edge,3:c.fits
"""


def scheduled(services) -> int:
    return services.job_broker.queues[names.SCIENCE_QUEUE].qsize()


def test_observer_starts_a_run_and_the_job_is_queued(services):
    add_user(services, "obs", role="observer")
    add_frame(services, target_name="M31")
    client = make_app(services).test_client()
    login(client, "obs")
    page = client.get("/photometry").get_data(as_text=True)
    assert "data-photometry-form" in page and "<option>M31</option>" in page
    response = client.post("/photometry", data={
        "target_name": "M31", "ra": "10.68", "dec": "41.27", "comparisons": "10.7 41.3 11.2\n10.6 41.2 11.9",
        "aperture_fwhm": "2", "annulus_inner_fwhm": "4", "annulus_outer_fwhm": "6", "obscode": "XYZ"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/photometry/1")
    with services.sessions() as session:
        run = session.get(PhotometryRun, 1)
        assert (run.state, run.created_by, run.aperture_fwhm, run.obscode) == ("queued", "obs", 2.0, "XYZ")
        assert run.comparisons[1] == {"name": "C2", "ra": 10.6, "dec": 41.2, "mag": 11.9}
    assert scheduled(services) == 1
    assert "queued" in client.get("/photometry/1").get_data(as_text=True)


def test_a_bad_request_is_refused_with_its_reason(services):
    client = make_app(services).test_client()
    login(client)
    response = client.post("/photometry", data={"target_name": "M31", "ra": "10.68", "dec": "41.27",
                                                "comparisons": "10.7 abc"}, follow_redirects=True)
    assert "line 1: Dec" in response.get_data(as_text=True)
    response = client.post("/photometry", data={"target_name": "M31"}, follow_redirects=True)
    assert "RA and Dec" in response.get_data(as_text=True)
    with services.sessions() as session:
        assert session.query(PhotometryRun).count() == 0
    assert scheduled(services) == 0


def test_run_page_plots_the_curve_and_downloads_the_products(services):
    frame_id = add_frame(services, target_name="M31")
    with services.sessions() as session:
        run = PhotometryRun(target_name="M31", ra_deg=10.68, dec_deg=41.27, state="done", frames_used=3)
        session.add(run)
        session.flush()
        product = store_product(session, services.store, kind="lightcurve_csv",
                                key=f"products/photometry/run-{run.id}/lightcurve.csv", data=CSV.encode(),
                                parameters={"calibration": {"masters": [{"id": 4, "kind": "bias"}],
                                                            "uncalibrated_frames": [frame_id],
                                                            "missing": ["no matching master flat (L)"]}},
                                frame_ids=[frame_id], photometry_run_id=run.id)
        session.commit()
        run_id, product_id = run.id, product.id
    add_user(services, "visitor", role="guest")
    client = make_app(services).test_client()
    login(client, "visitor")
    page = client.get(f"/photometry/{run_id}").get_data(as_text=True)
    assert page.count("data-point") == 3 and page.count('class="flagged"') == 1
    assert "1 flagged" in page and "<script" not in page.split("data-lightcurve")[1].split("</svg>")[0]
    assert "BJD 2460000.52000: 12.9000 ± 0.0200 (flagged)" in page
    calibration = " ".join(page.split("data-calibration>")[1].split("</p>")[0].split())
    assert calibration == ("Calibrated with master bias 4. 1 frames measured uncalibrated. "
                           "Missing: no matching master flat (L).")
    download = client.get(f"/products/{product_id}/download")
    assert download.status_code == 200 and download.data == CSV.encode()
    assert download.mimetype == "text/csv" and f"run-{run_id}-lightcurve.csv" in download.headers["Content-Disposition"]
    assert "data-photometry-form" not in client.get("/photometry").get_data(as_text=True)  # guests only read
    assert client.get("/products/999/download").status_code == 404


def test_plot_puts_brighter_up_and_scales_into_the_box():
    rows = [{"bjd_tdb": 2460000.5 + i / 100, "mag": m, "mag_err": 0.01, "good": True}
            for i, m in enumerate([12.0, 12.5, 13.0])]
    plot = lightcurve_plot(rows)
    ys = [p.y for p in plot.points]
    assert ys[0] < ys[1] < ys[2]  # SVG y grows downward: the brightest is highest
    xs = [p.x for p in plot.points]
    assert plot.left < xs[0] < xs[1] < xs[2] < plot.right
    assert all(plot.top <= p.y_low <= p.y_high <= plot.bottom for p in plot.points)
    assert plot.x_label == "BJD_TDB − 2460000" and plot.y_ticks
    assert lightcurve_plot([]) is None


def test_comparison_and_aperture_parsing():
    assert parse_comparisons("  \n# none\n") is None
    assert parse_comparisons("px 10 20\n150.1, 55.2") == [{"name": "C1", "mag": None, "x": 10.0, "y": 20.0},
                                                         {"name": "C2", "mag": None, "ra": 150.1, "dec": 55.2}]
    for text, message in (("1 2 3 4", "line 1: expected RA DEC"), ("400 0", "RA must be"),
                          ("1 2 11\n3 4", "for every comparison star or for none")):
        with pytest.raises(RequestError, match=re.escape(message)):
            parse_comparisons(text)
    assert parse_aperture("2", "3", "5") == (2.0, 3.0, 5.0)
    with pytest.raises(RequestError, match="annulus"):
        parse_aperture("2", "1.5", "5")
