"""The portal on a real WSGI server in a thread, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import io
import itertools
import random
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter
from werkzeug.serving import make_server

from common.config import load_config
from common.objectstore import LocalObjectStore
from master.models import Frame, FrameHeader
from master.services import MasterServices
from master.web import create_app
from master.web.auth import create_user
from tests.e2e.pages import watched_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ADMIN, PASSWORD = "admin", "night sky 42"
REFRESH_SECONDS = 1  # the portal's default is 10; the browser test need not wait that long


def star_field(seed: int, size: tuple[int, int]) -> bytes:
    """A PNG that looks like a stretched sky frame: dark background, blurred stars."""
    rng = random.Random(seed)
    image = Image.new("L", size, 18)
    draw = ImageDraw.Draw(image)
    for _ in range(size[0] * size[1] // 180):
        x, y = rng.uniform(0, size[0]), rng.uniform(0, size[1])
        r = rng.choice([0.6, 0.8, 1.0, 1.0, 1.4, 2.2])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=rng.randint(120, 255))
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Portal:
    """A running portal: its base URL and services, and a way to add frames."""

    username, password = ADMIN, PASSWORD

    def __init__(self, base_url: str, services: MasterServices):
        self.base_url = base_url
        self.services = services
        self._numbers = itertools.count(1)

    def add_frame(self, **fields) -> int:
        n = next(self._numbers)
        sha = f"{n:064x}"
        when = datetime(2024, 3, 9, 20, 0, tzinfo=timezone.utc) + timedelta(minutes=5 * n)
        values = dict(sha256=sha, key=f"frames/2024-03-09/M42/L/{sha}.fits", size=2880 * 4, node_name="scope1",
                      original_name=f"Light_M42_300s_{n:04d}.fits", frame_type="light", filter_name="L",
                      exposure_s=300.0, object_name="M 42", target_name="M42", date_obs=when,
                      night=date(2024, 3, 9), star_count=300 + 17 * n, hfr_px=1.9 + n / 20, fwhm_px=3.4,
                      accepted=n % 4 != 0, telescope="RedCat 51", camera="ASI2600MM", width=6248, height=4176)
        values.update(fields)
        if values["accepted"] is False and "reject_reason" not in values:
            values["reject_reason"] = "HFR above 3.0 px"
        store = self.services.store
        store.put_bytes(values["key"], b"SIMPLE  =                    T" + b" " * 2850)
        values["thumb_key"] = f"previews/{sha}/thumb.png"
        values["preview_key"] = f"previews/{sha}/preview.png"
        store.put_bytes(values["thumb_key"], star_field(n, (160, 107)))
        store.put_bytes(values["preview_key"], star_field(n, (900, 600)))
        cards = [["SIMPLE", True, "file conforms to FITS standard"], ["BITPIX", 16, "bits per pixel"],
                 ["NAXIS1", 6248, ""], ["NAXIS2", 4176, ""], ["OBJECT", values["object_name"], "target"],
                 ["EXPTIME", values["exposure_s"], "[s] exposure time"], ["FILTER", values["filter_name"], ""],
                 ["DATE-OBS", when.strftime("%Y-%m-%dT%H:%M:%S"), "UTC start of exposure"],
                 ["CCD-TEMP", -10.1, "[C] sensor temperature"], ["SWCREATE", "N.I.N.A. 3.0", ""]]
        with self.services.sessions() as session:
            frame = Frame(**values)
            frame.header = FrameHeader(cards=cards, text="\n".join(f"{k} = {v} / {c}" for k, v, c in cards))
            session.add(frame)
            session.commit()
            return frame.id


@pytest.fixture(scope="module")
def portal_config() -> dict:
    """Extra master config for the module's portal; by default the portal never asks CDS."""
    return {"catalog": {"enabled": False}}


@pytest.fixture(scope="module")
def portal(tmp_path_factory, portal_config):
    base: Path = tmp_path_factory.mktemp("portal")
    with pytest.MonkeyPatch.context() as patch:
        (base / "config").mkdir()
        patch.setenv("OBSY_CONFIG_DIR", str(base / "config"))
        patch.setenv("OBSY_DATA_DIR", str(base / "data"))
        config = load_config("master", None, database={"url": f"sqlite:///{base / 'obsy.db'}"},
                             store={"kind": "local", "path": str(base / "store")}, **portal_config)
        services = MasterServices(config, store=LocalObjectStore(base / "store"))
        create_user(services.sessions, ADMIN, PASSWORD)
        app = create_app(services)
        app.config["OBSY_REFRESH_SECONDS"] = REFRESH_SECONDS
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="portal", daemon=True)
        thread.start()
        try:
            yield Portal(f"http://127.0.0.1:{server.server_port}", services)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            services.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, portal):
    """A fresh browser context; fails the test on console errors or requests leaving the portal."""
    context, page, problems = watched_page(browser, portal.base_url, viewport={"width": 1400, "height": 1000})
    yield page
    context.close()
    assert problems == []
