"""Time to render a target page with its plots (not in the suite).

    nice -n 10 .venv/bin/python -m tests.bench.bench_target_page [--repeat 5]

A portal on a temporary SQLite database with one site, an optical train and 20 targets, served by
Flask's test client. Per case, median and best of ``--repeat`` runs, in ms:
- baseline: the Targets list page (the same portal, no sky computed), measured in the same run;
- cold: a target page with every cache emptied (the night's sky, the year's sun, the target);
- new target: another target on the same night (the site's sky cached, the target computed);
- warm: the same target again (everything cached);
- tonight the planner's way: ``NightSky`` for the night and ``.target()``, against ``target_tonight``
  with its caches emptied;
- months the plain way: the year's best months from twelve ``NightSky`` nights (the planner's
  sky, 10-minute grid) and one target each, against ``best_months`` with its caches emptied.
- an import of 1,000 CSV rows, half of them catalogue names (``--dry-run``: parsed, completed from
  OpenNGC, duplicates found), against one ``openngc.search`` per name (how names were looked up before).
The ratios are each time over the baseline's (the last three over ``target_tonight``, the import and
``best_months``). astropy's
one-time start-up (IERS table, ephemeris) is paid before the measurements.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest


def _portal(tmp: Path):
    from master.models import Camera, Site as SiteRow, Target, Telescope, TelescopeNode
    from tests.unit.test_web_support import add_user, login, make_app, make_services

    with pytest.MonkeyPatch.context() as patch:
        services = make_services(tmp, patch)
    add_user(services)
    with services.sessions() as session:
        site = SiteRow(name="Backyard", latitude_deg=48.5, longitude_deg=2.25, elevation_m=120.0,
                       timezone="Europe/Paris", horizon=[[0, 10], [180, 15]])
        session.add(TelescopeNode(node_name="scope1", site=site,
                                  telescope=Telescope(name="RedCat 51", aperture_mm=51, focal_length_mm=250),
                                  camera=Camera(name="ASI2600MM", pixel_size_um=3.76, width_px=6248, height_px=4176)))
        targets = [Target(name=f"Field {i}", ra_deg=18.0 * i, dec_deg=-20.0 + 3.0 * i, size_major_arcmin=30.0)
                   for i in range(20)]
        session.add_all(targets)
        session.commit()
        ids = [t.id for t in targets]
    client = make_app(services).test_client()
    login(client)
    return services, client, ids


def _clear() -> None:
    from master import target_sky

    for cached in (target_sky.tonight_sky, target_sky.target_tonight, target_sky.year_sky, target_sky.best_months):
        cached.cache_clear()


def _time(action, repeat: int, before=None) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from master.planning.sky import NightSky, Site
    from master.target_sky import best_months, target_tonight

    night = "2026-12-01"
    with tempfile.TemporaryDirectory() as tmp:
        services, client, ids = _portal(Path(tmp))

        def get(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200, response.status_code

        get(f"/targets/{ids[0]}?date=2026-06-01")  # astropy's start-up, on another night
        results = {"baseline": _time(lambda: get("/targets"), args.repeat)}
        results["cold"] = _time(lambda: get(f"/targets/{ids[1]}?date={night}"), args.repeat, before=_clear)
        others = iter(ids[2:])
        results["new target"] = _time(lambda: get(f"/targets/{next(others)}?date={night}"), args.repeat)
        results["warm"] = _time(lambda: get(f"/targets/{ids[1]}?date={night}"), args.repeat)
        site = Site(48.5, 2.25, 120.0)
        planner = _time(lambda: NightSky(site, date(2026, 12, 1)).target(83.8, -5.4), args.repeat)
        mine = _time(lambda: target_tonight(site, date(2026, 12, 1), 83.8, -5.4), args.repeat, before=_clear)
        ours = _time(lambda: best_months(site, 2026, 83.8, -5.4), args.repeat, before=_clear)
        plain = _time(lambda: [NightSky(site, date(2026, m, 15)).target(83.8, -5.4) for m in range(1, 13)],
                      max(1, args.repeat // 2))
        # An import of 1,000 CSV rows (half catalogue names), checked only, against a catalogue search per name.
        from master.catalog import openngc
        from master.target_files import parse_csv
        from master.target_import import import_targets

        text = "name,ra,dec\n" + "".join(f"Field {i},{i % 24}:00:00,+{i % 80}:00:00\n" for i in range(500))
        text += "".join(f"NGC {i}\n" for i in range(1, 501))
        with services.sessions() as session:
            imported = _time(lambda: import_targets(session, parse_csv(text), dry_run=True), max(1, args.repeat // 2))
        searched = _time(lambda: [openngc.search(f"NGC {i}" if i % 2 else f"Field {i}", limit=5) for i in range(1000)], 1)
        services.close()
    base = results["baseline"][0]
    print(f"{'case':<22}{'median ms':>12}{'best ms':>10}{'x baseline':>12}")
    for name, (median, best) in results.items():
        print(f"{name:<22}{median:>12.1f}{best:>10.1f}{median / base:>12.1f}")
    print(f"{'target_tonight (cold)':<22}{mine[0]:>12.1f}{mine[1]:>10.1f}")
    print(f"{'NightSky + target':<22}{planner[0]:>12.1f}{planner[1]:>10.1f}{planner[0] / mine[0]:>12.1f}  x target_tonight")
    print(f"{'best_months (cold)':<22}{ours[0]:>12.1f}{ours[1]:>10.1f}")
    print(f"{'import 1000 rows':<22}{imported[0]:>12.1f}{imported[1]:>10.1f}")
    print(f"{'1000 openngc.search':<22}{searched[0]:>12.1f}{searched[1]:>10.1f}{searched[0] / imported[0]:>12.1f}  x import")
    print(f"{'12 NightSky nights':<22}{plain[0]:>12.1f}{plain[1]:>10.1f}{plain[0] / ours[0]:>12.1f}  x best_months")


if __name__ == "__main__":
    main()
