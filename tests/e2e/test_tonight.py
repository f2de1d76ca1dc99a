"""From an empty portal to a schedule on the node's queue, in Chromium: a site, equipment, a target,
a plan, tonight's blocks, and the Send button."""
from __future__ import annotations

from datetime import date, timedelta

import dramatiq
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from common import names
from common.contracts import ScheduleJob, parse_message
from master.models import Frame, SafetyRecord, TelescopeNode
from master.tonight import plan_tonight
from tests.unit.test_web_support import frame_values
from .test_portal import log_in

pytestmark = pytest.mark.e2e

NIGHT = "2026-12-01"


def add_equipment(page, kind: str, values: dict[str, str], selects: dict[str, list[str]] | None = None) -> None:
    form = page.locator(f"#add-{kind}")
    for field, value in values.items():
        form.locator(f"[name={field}]").fill(value)
    for field, labels in (selects or {}).items():
        form.locator(f"select[name={field}]").select_option(label=labels)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/equipment*")


def test_equipment_plan_tonight_and_send(page, portal):
    page.goto("/equipment")
    log_in(page, portal)
    page.wait_for_url("**/equipment")
    add_equipment(page, "sites", {"name": "Backyard", "latitude_deg": "48.5", "longitude_deg": "2.25",
                                  "elevation_m": "120", "timezone": "Mars/Olympus", "horizon_text": "0 10, 180 15"})
    assert "is not a known time zone" in page.locator(".flash.error").inner_text()
    add_equipment(page, "sites", {"name": "Backyard", "latitude_deg": "48.5", "longitude_deg": "2.25",
                                  "elevation_m": "120", "timezone": "Europe/Paris", "horizon_text": "0 10, 180 15"})
    assert "0 10, 180 15" in page.locator("table[data-kind=sites]").inner_text()
    add_equipment(page, "telescopes", {"name": "RedCat 51", "aperture_mm": "51", "focal_length_mm": "250"})
    add_equipment(page, "cameras", {"name": "ASI2600MM", "width_px": "6248", "height_px": "4176",
                                    "pixel_size_um": "3.76", "gain_default": "100", "offset_default": "50"})
    add_equipment(page, "filters", {"name": "L"})
    add_equipment(page, "filters", {"name": "Ha"})
    add_equipment(page, "nodes", {"node_name": "scope1"}, {"site_id": ["Backyard"], "telescope_id": ["RedCat 51"],
                                                           "camera_id": ["ASI2600MM"], "filter_ids": ["Ha", "L"]})
    node_row = page.locator("table[data-kind=nodes] tr[data-item=scope1]").inner_text()
    assert "Backyard" in node_row and "Ha, L" in node_row and "3.10″/px" in node_row

    page.click("nav >> text=Targets")
    page.fill("#coords-form input[name=name]", "M 31")
    page.fill("#coords-form input[name=ra]", "00:42:44")
    page.fill("#coords-form input[name=dec]", "+41:16:09")
    page.click("#coords-form button[type=submit]")
    page.wait_for_url("**/targets/*")

    page.click("nav >> text=Plans")
    page.select_option("#plan-form select[name=target_id]", label="M 31")
    page.fill("#plan-form input[name=priority]", "2")
    page.fill("#plan-form input[name=min_altitude_deg]", "35")
    page.click("#plan-form button[type=submit]")
    page.wait_for_url("**/plans/*")
    page.fill("#row-form input[name=filter_name]", "L")
    page.fill("#row-form input[name=exposure_s]", "300")
    page.fill("#row-form input[name=count]", "12")
    page.click("#row-form button[type=submit]")
    row = page.locator("#plan-rows tbody tr")
    expect(row).to_have_count(1)  # the page after the post, not the one before it
    assert row.locator("td.left").inner_text() == "12"

    page.click("nav >> text=Tonight")
    page.fill("#night-form input[name=date]", NIGHT)
    page.click("#night-form button[type=submit]")
    page.wait_for_url(f"**/tonight?node=*&date={NIGHT}")
    assert page.locator("#timeline g[data-block='M 31']").count() == 1
    assert page.locator("#timeline rect.band.night").count() >= 1
    assert page.locator("#blocks tr[data-block='M 31']").count() == 1
    assert "Astronomical night 18:52–06:29" in page.locator("#night-facts").inner_text()
    assert "L 12×300.0s" in page.locator("#job-targets").inner_text()
    page.screenshot(path="/tmp/obsy-tonight.png", full_page=True)

    page.click("#send-form button[type=submit]")
    assert "sent to scope1: 1 target" in page.locator(".flash.ok").inner_text()
    assert page.locator("#sent tbody tr").count() == 1
    waiting = list(portal.services.job_broker.queues[names.schedule_queue("scope1")].queue)
    assert len(waiting) == 1
    job = parse_message(dramatiq.Message.decode(waiting[0]).args[0], ScheduleJob)
    assert [(t.name, [(r.filter_name, r.exposure_s, r.count) for r in t.rows]) for t in job.targets] == \
        [("M 31", [("L", 300.0, 12)])]

    # What ran: a rejected frame of M 31 before its block; the observatory unsafe all through the block.
    with portal.services.sessions() as session:
        binding = session.scalars(select(TelescopeNode)).one()
        block = plan_tonight(session, binding, date.fromisoformat(NIGHT)).plan.blocks[0]
        session.add(Frame(**frame_values(object_name="M 31", target_name="M31", accepted=False,
                                         date_obs=block.start - timedelta(minutes=20), night=date.fromisoformat(NIGHT))))
        session.add_all(SafetyRecord(node_name="roof1", state="unsafe", reasons=["rain"],
                                     at=block.start - timedelta(minutes=5 * (1 - i))) for i in range(40))
        session.commit()
    page.reload()
    assert page.locator("#ran-lane g[data-ran='M 31'].rejected").count() == 1
    assert page.locator("#timeline rect.unsafe").count() == 1
    assert "unsafe period" in page.locator("#missed li").inner_text()
    page.screenshot(path="/tmp/obsy-tonight-ran.png", full_page=True)

    # The same night as EKOS files for a KStars that OBSY does not drive.
    page.fill("#ekos-form input[name=files_dir]", "/home/astro/sched")
    with page.expect_download() as download_info:
        page.click("#ekos-form button[type=submit]")
    download = download_info.value
    assert download.suggested_filename == f"obsy-scope1-{NIGHT}-ekos.zip"
    import zipfile

    with zipfile.ZipFile(download.path()) as archive:
        names_in = sorted(archive.namelist())
        assert names_in[-1] == "schedule.esl" and names_in[0].endswith(".esq")
        assert b"<Sequence>/home/astro/sched/" in archive.read("schedule.esl")
