"""The remote node's gallery against a real master portal on a loopback port, and in Chromium."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import requests
from playwright.sync_api import expect
from werkzeug.serving import make_server

from common.config import RemoteConfig
from master.models import Frame, Target
from master.web import create_app
from node_remote.server import RemoteNode
from tests.e2e.pages import watched_page
from tests.unit.test_viewer_pyramid import fits_bytes

pytestmark = pytest.mark.e2e

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def gallery_data(portal):
    """Two public targets (one with an HTML name), one private; frames for each."""
    with portal.services.sessions() as session:
        session.add_all([Target(name="NGC 7000", ra_deg=314.7, dec_deg=44.3, public=True),
                         Target(name=EVIL, ra_deg=10.0, dec_deg=10.0, public=True),
                         Target(name="Secret", ra_deg=20.0, dec_deg=20.0, public=False)])
        session.commit()
    shown = portal.add_frame(target_name="NGC 7000", object_name="NGC 7000", filter_name="Ha", exposure_s=600.0,
                             hfr_px=1.75, accepted=True)
    evil = portal.add_frame(target_name=EVIL, object_name=EVIL, accepted=True)
    hidden = portal.add_frame(target_name="Secret", object_name="Secret", accepted=True)
    return {"shown": shown, "evil": evil, "hidden": hidden}


class Master:
    """The portal's services on a server this test owns, so it can take the master away."""

    def __init__(self, services):
        self.server = make_server("127.0.0.1", 0, create_app(services), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def start_remote():
    nodes = []

    def start(master_api_url: str, timeout_s: float = 5.0, **web) -> RemoteNode:
        config = RemoteConfig(mqtt={"port": 1}, web={"port": 0, "title": "Gallery site", **web},  # no broker needed
                              gallery={"master_api_url": master_api_url, "timeout_s": timeout_s, "refresh_s": 3600})
        node = RemoteNode(config, client_id=f"gallery-{len(nodes)}").start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def wait_fetched(node, timeout=10):
    deadline = time.monotonic() + timeout
    while node.gallery.snapshot()["checked_at"] is None:
        assert time.monotonic() < deadline, "the gallery never tried the master"
        time.sleep(0.05)


def test_gallery_shows_public_targets_and_keeps_them_when_the_master_goes(portal, gallery_data, start_remote):
    master = Master(portal.services)
    node = start_remote(master.url)
    wait_fetched(node)
    page = requests.get(f"{node.url}/gallery", timeout=5)
    html = page.text
    assert page.status_code == 200 and "Updated " in html
    assert 'data-target="NGC 7000"' in html and "Secret" not in html
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<dd data-field="filter">Ha</dd>' in html and '<dd data-field="hfr">1.75</dd>' in html
    assert '<dd data-field="exposure">600.0</dd>' in html
    shown = requests.get(f"{node.url}/gallery/{gallery_data['shown']}.png", timeout=5)
    original = requests.get(f"{master.url}/public/previews/{gallery_data['shown']}.png", timeout=5)
    assert shown.status_code == 200 and shown.content == original.content and shown.content[:4] == b"\x89PNG"
    # The private target's preview: not served by the master to anonymous, not held by the remote node.
    assert requests.get(f"{master.url}/public/previews/{gallery_data['hidden']}.png", timeout=5).status_code == 404
    assert requests.get(f"{node.url}/gallery/{gallery_data['hidden']}.png", timeout=5).status_code == 404

    master.stop()
    assert node.gallery.refresh() is False
    page = requests.get(f"{node.url}/gallery", timeout=5)
    assert page.status_code == 200
    assert "The master cannot be reached since" in page.text and "Showing the gallery as of" in page.text
    assert 'data-target="NGC 7000"' in page.text  # the cached gallery stays on show
    assert requests.get(f"{node.url}/gallery/{gallery_data['shown']}.png", timeout=5).content == shown.content


def test_public_frames_reach_the_remote_site_and_open_in_the_masters_viewer(portal, gallery_data, start_remote):
    with portal.services.sessions() as session:
        frame = session.get(Frame, gallery_data["hidden"])  # its target is private; the frame is made public
        frame.public, key = True, frame.key
        session.commit()
    portal.services.store.put_bytes(key, fits_bytes(np.full((40, 60), 1000, np.uint16)))
    master = Master(portal.services)
    try:
        node = start_remote(master.url, master_url=master.url)
        wait_fetched(node)
        html = requests.get(f"{node.url}/gallery", timeout=5).text
        frame_id = gallery_data["hidden"]
        assert f'data-public-frame="{frame_id}"' in html and 'data-target="Secret"' not in html
        viewer = f"{master.url}/frames/{frame_id}/view"
        assert f'href="{viewer}"' in html
        shown = requests.get(f"{node.url}/gallery/{frame_id}.png", timeout=5)
        assert shown.status_code == 200 and shown.content[:4] == b"\x89PNG"
        # A visitor following the link gets the master's viewer without logging in.
        answer = requests.get(viewer, timeout=5, allow_redirects=False)
        assert answer.status_code == 200 and 'id="v-viewport"' in answer.text
        other = requests.get(f"{master.url}/frames/{gallery_data['shown']}/view", timeout=5, allow_redirects=False)
        assert other.status_code == 302 and "/login" in other.headers["Location"]
    finally:
        with portal.services.sessions() as session:
            session.get(Frame, gallery_data["hidden"]).public = False
            session.commit()
        master.stop()


def test_a_master_that_never_answers_times_out_and_the_page_says_so(start_remote):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (kernel backlog), never answers
    try:
        node = start_remote(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.5)
        began = time.monotonic()
        wait_fetched(node)
        assert time.monotonic() - began < 5
        page = requests.get(f"{node.url}/gallery", timeout=5)
        assert page.status_code == 200
        assert "The master cannot be reached since" in page.text and "Nothing fetched yet." in page.text
        assert requests.get(f"{node.url}/", timeout=5).status_code == 200  # the live page is unaffected
    finally:
        silent.close()


def test_gallery_page_in_chromium(browser, portal, gallery_data, start_remote):
    node = start_remote(portal.base_url)
    wait_fetched(node)
    context, page, problems = watched_page(browser, node.url)
    try:
        page.goto("/")
        page.click("nav >> text=Gallery")
        expect(page).to_have_url(f"{node.url}/gallery")
        card = page.locator(".gallery-item[data-target='NGC 7000']")
        assert card.locator("h2").text_content() == "NGC 7000"
        assert card.locator("[data-field='filter']").text_content() == "Ha"
        image = card.locator("img")
        image.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert page.locator(f".gallery-item h2:text-is('{EVIL}')").count() == 1  # shown as text
        assert page.locator(".gallery-item h2 img").count() == 0
        assert page.locator("text=Secret").count() == 0
    finally:
        context.close()
    assert problems == []
