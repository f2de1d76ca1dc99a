"""Reports: aggregation on generated rows, the charts' geometry, CSV output, and the pages."""
from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from master.models import SafetyRecord, Target
from master.reports.aggregate import night_groups, target_report, weather_notes
from master.reports.csv_export import FRAME_COLUMNS, frames_csv, safety_csv
from master.reports.queries import night_window
from master.safety_timeline import Stretch
from master.web.report_charts import integration_chart, trend_chart
from tests.unit.test_web_support import add_frame

UTC = timezone.utc
NIGHTS = [date(2024, 1, 5), date(2024, 1, 6), date(2024, 1, 9)]
FIELDS = dict(fwhm_px=None, noise=None, eccentricity=None, node_name="scope1", target_name="M31", frame_type="light")


def generated(seed: int = 3) -> list[SimpleNamespace]:
    """Frames over three nights in L, R and no filter; every fifth rejected, for one of two reasons."""
    rng = random.Random(seed)
    rows, n = [], 0
    for night in NIGHTS:
        for filt, exposure, count in (("L", 300.0, 6), ("R", 120.0, 4), (None, 60.0, 2)):
            for i in range(count):
                n += 1
                accepted = n % 5 != 0
                rows.append(SimpleNamespace(
                    id=n, night=night, filter_name=filt, exposure_s=exposure, accepted=accepted,
                    reject_reason=None if accepted else ("HFR 4.1 above 3.5" if n % 2 else "too few stars"),
                    date_obs=datetime.combine(night, datetime.min.time(), UTC) + timedelta(hours=20, minutes=7 * i),
                    hfr_px=rng.uniform(1.8, 2.6), star_count=rng.randint(200, 600),
                    background=None if i == 0 else rng.uniform(800, 900), **FIELDS))
    rng.shuffle(rows)  # the aggregation must not rely on the order of the rows
    return rows


def test_integration_by_filter_and_night_counts_and_reasons():
    rows = generated()
    report = target_report(rows)
    assert report.nights == NIGHTS and report.filters == ["(none)", "L", "R"]
    for night in NIGHTS:
        for name in report.filters:
            cell = [r for r in rows if r.night == night and (r.filter_name or "(none)") == name]
            tally = report.by_night_filter[(night, name)]
            assert tally.accepted == sum(r.accepted for r in cell)
            assert tally.rejected == sum(not r.accepted for r in cell)
            assert tally.accepted_s == sum(r.exposure_s for r in cell if r.accepted)
    assert report.total.total == 36 and report.total.rejected == 7
    assert report.by_filter["L"].accepted_s == sum(r.exposure_s for r in rows if r.filter_name == "L" and r.accepted)
    rejected = [r.reject_reason for r in rows if not r.accepted]
    assert dict(report.reasons) == {reason: rejected.count(reason) for reason in set(rejected)}
    assert [count for _, count in report.reasons] == sorted((c for _, c in report.reasons), reverse=True)
    # Trends are in time order, keep rejected frames (marked), and skip missing values.
    hfr = report.trends["hfr_px"]
    assert len(hfr) == 36 and [p.when for p in hfr] == sorted(p.when for p in hfr)
    assert sum(not p.accepted for p in hfr) == 7
    assert len(report.trends["background"]) == 36 - 9  # the first frame of each filter and night has none


def test_undated_frames_count_in_totals_but_in_no_night():
    rows = generated()[:5] + [SimpleNamespace(id=99, night=None, filter_name="Ha", exposure_s=600.0, accepted=True,
                                              reject_reason=None, date_obs=None, hfr_px=2.0, star_count=10,
                                              background=1.0, **FIELDS)]
    report = target_report(rows)
    assert report.undated == 1 and "Ha" in report.filters and report.by_filter["Ha"].accepted_s == 600.0
    assert all(name != "Ha" for _, name in report.by_night_filter)
    assert len(report.trends["hfr_px"]) == 5


def test_charts_geometry_follows_the_numbers():
    report = target_report(generated())
    bars = integration_chart(report)
    assert len(bars.bars) == 9 and [name for name, _ in bars.legend] == report.filters
    # Stacked bars of one night: their heights add up in proportion to the accepted hours.
    plot_h = bars.bottom - bars.top
    night_hours = {n: sum(t.accepted_s for (m, _), t in report.by_night_filter.items() if m == n) / 3600
                   for n in NIGHTS}
    scale = max(night_hours.values()) * 1.08
    for i, night in enumerate(NIGHTS):
        heights = sum(b.h for b in bars.bars if b.label.startswith(night.isoformat()))
        assert abs(heights - night_hours[night] / scale * plot_h) < 0.5
    assert all(bars.top <= b.y and b.y + b.h <= bars.bottom + 0.5 for b in bars.bars)
    trend = trend_chart("hfr_px", "HFR (px)", report.trends["hfr_px"])
    xs = [d.x for d in trend.dots]
    assert xs == sorted(xs) and trend.left <= min(xs) and max(xs) <= trend.right
    worst = max(report.trends["hfr_px"], key=lambda p: p.value)
    assert min(d.y for d in trend.dots) == trend.dots[report.trends["hfr_px"].index(worst)].y  # higher is up
    # Only accepted points are joined, and the three nights are not joined to each other.
    assert len(trend.lines) == 3 and sum(line.count(",") for line in trend.lines) == 29
    assert trend_chart("x", "x", []) is None
    assert integration_chart(target_report([])) is None


def test_night_groups_and_weather_notes():
    rows = generated()
    flats = [SimpleNamespace(id=100 + i, night=NIGHTS[0], filter_name="L", exposure_s=2.0, accepted=True,
                             reject_reason=None, date_obs=None, hfr_px=None, star_count=None, background=None,
                             **{**FIELDS, "frame_type": "flat", "target_name": None}) for i in range(3)]
    groups = night_groups([r for r in rows if r.night == NIGHTS[0]] + flats)
    assert [(g.frame_type, g.filter_name) for g in groups] == [("light", "(none)"), ("light", "L"), ("light", "R"),
                                                                ("flat", "L")]
    assert groups[-1].tally.accepted == 3 and groups[-1].first is None and groups[-1].median_hfr is None
    assert groups[1].tally.total == 6 and groups[1].first < groups[1].last
    at = datetime(2024, 1, 5, 22, tzinfo=UTC)
    records = [SimpleNamespace(node_name="roof1", state="unsafe", reasons=["humidity 93 above 90", "rain reported"],
                               at=at),
               SimpleNamespace(node_name="roof1", state="unsafe", reasons=["humidity 93 above 90"],
                               at=(at + timedelta(minutes=5)).replace(tzinfo=None)),  # SQLite: naive UTC
               SimpleNamespace(node_name="roof1", state="safe", reasons=[], at=at + timedelta(minutes=30))]
    notes = weather_notes(records)
    assert [(n.reason, n.reports) for n in notes] == [("humidity 93 above 90", 2), ("rain reported", 1)]
    assert notes[0].last - notes[0].first == timedelta(minutes=5)


def test_night_window_is_local_mean_noon_to_noon():
    frames = [SimpleNamespace(site_lon=15.0), SimpleNamespace(site_lon=None)]
    start, end = night_window(date(2024, 1, 5), frames)
    assert start == datetime(2024, 1, 5, 11, tzinfo=UTC) and end - start == timedelta(days=1)
    assert night_window(date(2024, 1, 5), [])[0].hour == 12


def test_frames_csv_has_one_row_per_frame_with_the_grading():
    rows = sorted(generated(), key=lambda r: r.id)
    parsed = list(csv.DictReader(io.StringIO(frames_csv(rows))))
    assert tuple(parsed[0]) == FRAME_COLUMNS and len(parsed) == len(rows)
    by_id = {int(p["frame_id"]): p for p in parsed}
    for row in rows:
        line = by_id[row.id]
        assert line["accepted"] == ("yes" if row.accepted else "no")
        assert line["reject_reason"] == ("" if row.accepted else row.reject_reason)
        assert float(line["hfr_px"]) == float(f"{row.hfr_px:.6g}") and line["filter"] == (row.filter_name or "(none)")
        assert datetime.fromisoformat(line["date_obs_utc"]) == row.date_obs
    text = safety_csv({"roof1": [Stretch("safe", datetime(2024, 1, 5, 20, tzinfo=UTC),
                                         datetime(2024, 1, 5, 21, tzinfo=UTC)),
                                 Stretch("unsafe", datetime(2024, 1, 5, 21, tzinfo=UTC),
                                         datetime(2024, 1, 5, 21, 30, tzinfo=UTC), ("rain, heavy", "wind"))]})
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[1][:2] == ["roof1", "safe"] and lines[1][4] == "3600"
    assert lines[2][5] == "rain, heavy; wind"  # quoted by the CSV writer, not split


def test_target_and_night_pages_and_csv(services, client):
    with services.sessions() as session:
        session.add(Target(name="M31", ra_deg=10.7, dec_deg=41.3))
        for minutes, state, reasons in ((0, "safe", []), (60, "unsafe", ["cloud cover 0.8 above 0.5"]),
                                        (90, "safe", [])):
            session.add(SafetyRecord(node_name="roof1", state=state, reasons=reasons,
                                     at=datetime(2024, 1, 5, 20, tzinfo=UTC) + timedelta(minutes=minutes)))
        session.commit()
        target_id = session.query(Target).one().id
    for i in range(4):
        add_frame(services, hfr_px=2.0 + i / 10, background=850.0 + i, accepted=i != 3,
                  reject_reason="HFR above 3.0" if i == 3 else None)
    add_frame(services, frame_type="flat", target_name=None, exposure_s=2.0)
    assert f'href="/reports/targets/{target_id}"'.encode() in client.get(f"/targets/{target_id}").data
    page = client.get(f"/reports/targets/{target_id}").get_data(as_text=True)
    assert 'data-chart="integration"' in page and 'data-chart="hfr_px"' in page and 'data-chart="star_count"' in page
    assert "HFR above 3.0" in page and "3 accepted light frames, 0.10 h" in page
    lines = client.get(f"/reports/targets/{target_id}.csv").get_data(as_text=True).splitlines()
    assert len(lines) == 5 and lines[0].startswith("frame_id,night")
    assert b"2024-01-05" in client.get("/reports/nights").data
    night = client.get("/reports/nights/2024-01-05").get_data(as_text=True)
    assert 'data-safety="roof1"' in night and 'data-state="unsafe"' in night
    assert "cloud cover 0.8 above 0.5" in night and "flat" in night
    assert len(client.get("/reports/nights/2024-01-05.csv").get_data(as_text=True).splitlines()) == 6
    safety = client.get("/reports/nights/2024-01-05/safety.csv").get_data(as_text=True)
    # Records 30 min apart: each verdict holds for STALE_S (600 s), then the node counts as silent.
    assert "roof1,unsafe,2024-01-05T21:00:00+00:00,2024-01-05T21:10:00+00:00,600,cloud cover 0.8 above 0.5" in safety
    assert "roof1,no data,2024-01-05T21:10:00+00:00" in safety
    assert client.get("/reports/nights/not-a-date").status_code == 404
    assert client.get("/reports/targets/999").status_code == 404
