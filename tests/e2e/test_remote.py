"""The remote node's live page in headless Chromium: it follows events without reloading."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from common import names
from common.config import MqttConfig, RemoteConfig
from common.contracts import FrameIngested, JobProgress, MountReport, RoofState, SafetyState, WeatherReport
from common.events import InProcessEventBus
from master.live import LivePublisher
from node_remote.server import RemoteNode
from tests.e2e.pages import watched_page
from tests.servers import MosquittoServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_site():
    with MosquittoServer() as mosquitto:
        config = MqttConfig(host=mosquitto.host, port=mosquitto.port, site="e2e", reconnect_max_s=1.0)
        bus = InProcessEventBus()
        publisher = LivePublisher(config, client_id="e2e-master")
        publisher.subscribe(bus)
        publisher.start()
        node = RemoteNode(RemoteConfig(mqtt=config.model_dump(), web={"port": 0, "title": "E2E site"}),
                          client_id="e2e-remote").start()
        try:
            yield mosquitto, bus, node
        finally:
            node.stop()
            publisher.stop()
            bus.close()


def test_live_page_updates_without_reload(browser, live_site):
    mosquitto, bus, node = live_site
    context, page, problems = watched_page(browser, node.url)
    loads = []
    page.on("load", lambda _: loads.append(1))
    try:
        page.goto("/")
        expect(page.locator("#connection")).to_have_text("live")
        bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="unsafe", reasons=["rain"]))
        expect(page.locator("[data-field='safety.state']")).to_have_text("unsafe")
        assert page.get_attribute("#safety-card", "data-state") == "unsafe"
        assert page.text_content("[data-field='safety.reasons']") == "rain"
        bus.publish(names.job_progress_key("scope1"), JobProgress(job_id="j1", node="scope1", state="exposing",
                                                                  target="M 31", frame_index=1, frame_total=4))
        expect(page.locator("#job-progress")).to_have_js_property("value", 0.25)
        assert page.text_content("[data-field='job.target']") == "M 31"
        bus.publish(names.FRAME_INGESTED_KEY, FrameIngested(sha256="ab" * 32, node="scope1", frame_id=3, key="k",
                                                            frame_type="light", object_name="M 31"))
        expect(page.locator("#activity")).to_contain_text("light frame M 31")
        bus.publish(names.roof_key("roof1"), RoofState(node="roof1", state="error", activity="alarm",
                                                       alarm="<b>park failed</b>"))
        bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=False))
        expect(page.locator("#roofs [data-roof='roof1']")).to_have_text("roof1: error (alarm) alarm: <b>park failed</b>")
        expect(page.locator("#mounts [data-mount='scope1']")).to_have_text("scope1: unparked")
        assert page.locator("#roofs b").count() == 0  # the alarm text is text, not markup
        assert page.text_content("[data-field='frame/latest.object_name']") == "M 31"
        bus.publish(names.weather_key("roof1"), WeatherReport(node="roof1", measured_at=datetime.now(timezone.utc),
                                                              values={"ambient_c": 4.5, "rain": False}))
        expect(page.locator("#weather-values dd[data-quantity='ambient_c']")).to_have_text("4.5")
        assert page.text_content("#weather-values dd[data-quantity='rain']") == "false"
        expect(page.locator("#weather-chart")).to_have_attribute("src", re.compile(r"^/weather\.svg\?at="))
        chart = page.request.get(node.url + "/weather.svg").text()
        assert 'data-quantity="ambient_c"' in chart and "<polyline" in chart

        mosquitto.stop()
        lost = re.compile(r"^connection lost since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
        expect(page.locator("#connection")).to_have_text(lost)
        assert page.text_content("[data-field='safety.state']") == "unsafe"  # the last values stay
        mosquitto.start()
        expect(page.locator("#connection")).to_have_text("live")
        bus.publish(names.safety_key("roof1"), SafetyState(node="roof1", state="safe"))
        expect(page.locator("[data-field='safety.state']")).to_have_text("safe")
        assert len(loads) == 1  # every change arrived without a reload
    finally:
        context.close()
    assert problems == []
