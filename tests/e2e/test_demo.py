"""`obsy demo` as a user meets it: start it, log in with what it prints, watch frames arrive."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from common.mosquitto import find_mosquitto


pytestmark = pytest.mark.e2e
OBSY = str(Path(sys.executable).with_name("obsy"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    proc = subprocess.Popen([OBSY, "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo")],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        login = None
        while time.monotonic() < deadline and login is None:
            assert proc.poll() is None, log.read_text()
            login = re.search(r"Portal: (http://\S+)\s+\(login: (\S+) / (\S+)\)", log.read_text())
            time.sleep(0.2)
        assert login, "the demo never printed its portal URL and login:\n" + log.read_text()
        public = re.search(r"Public site: (http://\S+)/ ", log.read_text())
        yield login.group(1), login.group(2), login.group(3), public and public.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the demo did not stop on Ctrl+C:\n" + log.read_text())
    assert proc.returncode == 0, log.read_text()


def test_demo_shows_frames_arriving_within_a_minute(browser, demo):
    url, username, password, public_url = demo
    started = time.monotonic()
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/frames")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/frames.*"))
    rows = page.locator("#frame-list tbody tr")
    # The portal has a strict CSP (no eval), so poll from here rather than with wait_for_function.
    while rows.count() < 3 and time.monotonic() - started < 60:
        time.sleep(0.5)
    assert rows.count() >= 3, "fewer than 3 frames in the browser a minute after the demo started"
    first = rows.first
    assert first.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    first.locator("td.date a").click()
    page.wait_for_url(re.compile(r".*/frames/\d+$"))  # count() does not wait for the new page
    header = page.locator("#header-table")
    expect(header.locator("text=SWCREATE").first).to_be_visible()
    assert page.locator("figure.preview img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.click("nav >> text=Nodes")
    node = page.locator("tr[data-node='scope1']")
    assert "online" in node.inner_text().lower()

    if find_mosquitto():  # the demo then runs its own broker and the public site reading it
        assert public_url, "mosquitto is installed but the demo printed no public site"
        public = context.new_page()
        public.on("pageerror", lambda error: errors.append(str(error)))
        public.goto(public_url + "/")
        expect(public.locator("#connection")).to_have_text("live")
        # frames have been ingested, so the retained frame/latest is there at once
        expect(public.locator("[data-field='frame/latest.object_name']")).not_to_be_empty()
        expect(public.locator("#nodes [data-node='scope1']")).to_be_visible()
    context.close()
    assert errors == []
