"""`obsy master web` alone on the embedded defaults: a photometry run started in the portal is done.

With ``[broker] kind = "embedded"`` the queue lives in the portal's own process, so that process must
also consume it; before it did, the run stayed "queued" forever.
"""
from __future__ import annotations

import re

import requests

from tests.unit.science_frames import write_frames
from .helpers import run_obsy, stop_group, wait_for
from .test_master_web import prepare_master, start_portal


def _login(base: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = session.post(f"{base}/login", timeout=5,
                          data={"username": "ana", "password": "dark skies 7", "csrf_token": token})
    assert answer.url.endswith("/frames"), answer.url
    return session


def test_a_photometry_run_queued_in_the_portal_is_measured(tmp_path):
    config, env = prepare_master(tmp_path, f"sqlite:///{tmp_path / 'obsy.db'}")
    (tmp_path / "frames").mkdir()
    paths, target, comps, _ = write_frames(tmp_path / "frames", [1.0, 1.05, 0.95])
    run_obsy(["ingest", "--config", str(config), *map(str, paths)], env)
    web, base = start_portal(config, tmp_path, env, workers=1)
    try:
        session = _login(base)
        page = session.get(f"{base}/photometry", timeout=5).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        lines = "\n".join(f"{c.ra} {c.dec} {c.mag}" for c in comps)
        answer = session.post(f"{base}/photometry", timeout=10,
                              data={"csrf_token": token, "target_name": "VAR FIELD", "ra": target.ra,
                                    "dec": target.dec, "comparisons": lines})
        assert re.search(r"/photometry/\d+$", answer.url), answer.url

        def state():
            return re.search(r"data-run-state>([^<]+)<", session.get(answer.url, timeout=5).text).group(1)

        wait_for(lambda: state() in ("done", "failed"), 60, "the photometry run to finish")
        assert state() == "done", session.get(answer.url, timeout=5).text[:3000]
        assert "lightcurve" in session.get(answer.url, timeout=5).text.lower()
    finally:
        stop_group(web)
