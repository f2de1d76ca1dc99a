"""The observatory page in Chromium: the safety timeline, and roof commands answered by a node.

The node here is the real roof controller and command handler on a simulated roof and mount,
on the portal's own in-process event bus (as in `obsy demo`); the master's recorders store what
it answers."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from common import names
from common.contracts import SafetyState
from master.nodes import record_roof_result, record_roof_state, record_safety
from node_observatory.roof.commands import RoofCommands
from node_observatory.roof.controller import RoofController, RoofSettings
from node_observatory.roof.simulator import SimulatedMount, SimulatedRoof
from tests.e2e.test_portal import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(portal):
    services, bus = portal.services, portal.services.bus
    bus.subscribe([names.ROOF_RESULT_PATTERN], lambda key, message: record_roof_result(services.sessions, message))
    bus.subscribe([names.ROOF_PATTERN], lambda key, message: record_roof_state(services.sessions, message))
    mount = SimulatedMount(park_s=0.5)
    controller = RoofController("roof1", SimulatedRoof(travel_s=1.0), list(mount.sources.values()),
                                request_park=mount.request_park, settings=RoofSettings(min_safe_s=0),
                                publish=lambda message: bus.publish(names.roof_key("roof1"), message))
    commands = RoofCommands("roof1", controller, lambda result: bus.publish(names.roof_result_key("roof1"), result))
    bus.subscribe([names.roof_command_key("roof1")], commands.on_event)
    sky = {"state": "unsafe"}
    stop = threading.Event()

    def loop():
        controller.recover()
        while not stop.wait(0.1):
            controller.on_safety(sky["state"])
            commands.run_pending()
            controller.step()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield sky
    stop.set()
    thread.join(5)


def reload_until(page, selector: str, text: str, timeout_s: float = 30.0) -> str:
    """The selector's text once it holds ``text`` (generous: a loaded 2-core machine answers slowly)."""
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    url = page.url
    while True:
        page.goto(url)  # a fresh load each time (reload() raced with the previous load under load)
        content = page.locator(selector).inner_text()
        if text in content or datetime.now() > deadline:
            return content
        page.wait_for_timeout(250)


def test_timeline_and_roof_commands(page, portal, node):
    now = datetime.now(timezone.utc)
    for minutes, state, reasons in ((200, "safe", []), (60, "unsafe", ["rain: 1"])):
        for m in range(minutes, minutes - 60, -5):  # republished every 5 minutes
            record_safety(portal.services.sessions, SafetyState(node="roof1", state=state, reasons=reasons,
                                                                sent_at=now - timedelta(minutes=m)))
    page.goto("/observatory")
    log_in(page, portal)
    page.goto("/observatory?hours=6")
    section = page.locator('section[data-observatory="roof1"]')
    states = section.locator("svg rect").evaluate_all("rects => rects.map(r => r.dataset.state)")
    assert states == ["no data", "safe", "no data", "unsafe"]
    widths = section.locator("svg rect").evaluate_all("rects => rects.map(r => r.getBoundingClientRect().width)")
    svg_width = section.locator("svg").evaluate("svg => svg.getBoundingClientRect().width")
    assert all(w > 0 for w in widths) and abs(sum(widths) - svg_width) < 3  # the stretches fill the window
    assert "rain: 1" in section.locator("[data-changes]").inner_text()

    section.locator("button[value=open]").click()
    assert "open sent to roof1" in page.locator(".flash").first.inner_text()
    answer = reload_until(page, 'section[data-observatory="roof1"] [data-commands]', "refused")
    assert "refused" in answer and "sky is unsafe" in answer

    node["state"] = "safe"
    page.wait_for_timeout(300)
    page.locator('section[data-observatory="roof1"] button[value=open]').click()
    assert "done" in reload_until(page, 'section[data-observatory="roof1"] [data-commands] tbody tr:first-child',
                                  "done")
    assert "open" in reload_until(page, 'section[data-observatory="roof1"] [data-roof-state]', "open")
