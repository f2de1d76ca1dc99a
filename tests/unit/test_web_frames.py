"""The frame browser, the frame page, images and downloads."""
from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event

from common.objectstore import ObjectStore, ObjectStoreError
from master.models import Frame
from tests.unit.test_web_support import (add_frame, add_frames, add_user, login, make_app, make_services,
                                         png_bytes)


def row_ids(html: bytes) -> list[int]:
    return [int(n) for n in re.findall(rb'data-frame-id="(\d+)"', html)]


def test_empty_browser(client):
    page = client.get("/frames")
    assert page.status_code == 200 and b"No frames yet" in page.data
    assert client.get("/").headers["Location"] == "/frames"


def test_list_shows_key_metrics_and_thumbnails(services, client):
    with_thumb = add_frame(services, thumb=png_bytes(), object_name="M 42", filter_name="Ha", exposure_s=300.0,
                           star_count=812, hfr_px=1.875, accepted=False, reject_reason="HFR too high")
    without = add_frame(services, object_name="NGC 7000")
    html = client.get("/frames").data.decode()
    assert row_ids(html.encode()) == [without, with_thumb]  # newest observation first
    assert f'src="/frames/{with_thumb}/thumb.png"' in html
    assert f'src="/frames/{without}/thumb.png"' not in html and "no preview" in html
    for text in ("M 42", "Ha", "300", "812", "1.88", "rejected", "HFR too high", "accepted", "2024-01-05 "):
        assert text in html
    assert "2 frames" in html


def test_filters_narrow_the_list_and_fill_the_dropdowns(services, client):
    m31 = add_frame(services)
    m42 = add_frame(services, target_name="M42", object_name="M 42", filter_name="R")
    dark = add_frame(services, frame_type="dark", target_name=None, object_name=None, filter_name=None,
                     night=date(2024, 1, 6))
    bad = add_frame(services, accepted=False, cards=[["OBJECT", "M 31", ""], ["FOCUSER", "12345", "steps"]])
    cases = {
        "target=M42": [m42], "filter=R": [m42], "type=dark": [dark], "night=2024-01-06": [dark],
        "accepted=no": [bad], "accepted=yes&type=light&target=M31": [m31],
        "q=focuser": [bad], "q=12345": [bad], "q=100%25": [], "q=_": [],
        "night=2024-01-05&filter=L": [bad, m31],
    }
    for query, expected in cases.items():
        assert row_ids(client.get(f"/frames?{query}").data) == sorted(expected, reverse=True), query

    html = client.get("/frames?target=M42").data.decode()
    assert '<option value="M42" selected>M42</option>' in html
    assert '<option value="2024-01-06">2024-01-06</option>' in html
    assert '<option value="dark">dark</option>' in html
    assert '<option value="R">R</option>' in html
    assert "1 frame match" in html and 'href="/frames">Clear' in html


def test_bad_filter_values_are_reported_and_ignored(services, client):
    add_frame(services)
    html = client.get("/frames?night=yesterday&accepted=maybe&page=x").data.decode()
    assert "night &#39;yesterday&#39; is not a date" in html
    assert "accepted &#39;maybe&#39; must be" in html
    assert "page &#39;x&#39; is not a whole number" in html
    assert len(row_ids(html.encode())) == 1


def test_pagination(services, client):
    add_frames(services, 120)
    first = client.get("/frames")
    assert len(row_ids(first.data)) == 50 and b"page 1 of 3" in first.data
    assert b'href="/frames?page=2"' in first.data and b'href="/frames?page=3"' in first.data
    third = client.get("/frames?page=3")
    assert len(row_ids(third.data)) == 20
    assert set(row_ids(first.data)).isdisjoint(row_ids(third.data))
    assert row_ids(client.get("/frames?page=99").data) == row_ids(third.data)  # past the end: the last page
    filtered = client.get("/frames?page=2&target=M31").data
    assert b'href="/frames?page=3&amp;target=M31"' in filtered  # links keep the filters


def test_list_is_loaded_a_page_at_a_time(services, client):
    """Only LIMITed, COUNTed or DISTINCT queries touch the frames table."""
    add_frames(services, 60)
    statements = []
    event.listen(services.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: statements.append(" ".join(sql.split())))
    client.get("/frames")
    on_frames = [s for s in statements if "FROM frames" in s]
    assert on_frames
    for sql in on_frames:
        assert "LIMIT" in sql or "count(*)" in sql or "DISTINCT" in sql, sql


def test_refresh_returns_only_the_list(services, client):
    first = add_frame(services)
    html = client.get("/frames", headers={"X-OBSY-Refresh": "1"}).data.decode()
    assert html.lstrip().startswith('<section id="frame-list"') and "<html" not in html
    second = add_frame(services)
    assert row_ids(client.get("/frames", headers={"X-OBSY-Refresh": "1"}).data) == [second, first]


def test_frame_page_shows_fields_grading_warnings_and_header(services, client):
    frame_id = add_frame(services, preview=png_bytes(size=(320, 240)), warnings=["DATE-OBS missing, used file time"],
                         ra_deg=10.6847, dec_deg=41.269, width=4144, height=2822, binning_x=1, binning_y=1,
                         accepted=False, reject_reason="too few stars", eccentricity=0.42,
                         cards=[["SIMPLE", True, "conforms"], ["EXPTIME", 120.0, "s"], ["SWCREATE", "N.I.N.A.", ""],
                                ["FLIPPED", False, ""], ["HISTORY", None, "reduced"]])
    html = client.get(f"/frames/{frame_id}").data.decode()
    assert f'src="/frames/{frame_id}/preview.png"' in html
    assert f'href="/frames/{frame_id}/download"' in html
    for text in ("00:42:44.3", "+41:16:08.4", "4144 × 2822", "1 × 1", "too few stars", "0.420",
                 "DATE-OBS missing, used file time", "M31_L_", "2.8 KB (2,880 bytes)", "scope1"):
        assert text in html, text
    header = html[html.index('id="header-table"'):]
    assert re.search(r'<td class="kw">SWCREATE</td><td class="val">N.I.N.A.</td>', header)
    assert '<td class="kw">SIMPLE</td><td class="val">T</td>' in header
    assert '<td class="kw">FLIPPED</td><td class="val">F</td>' in header
    assert '<td class="kw">HISTORY</td><td class="val"></td><td class="comment">reduced</td>' in header
    assert "5 cards" in html


def test_frame_page_back_link_keeps_the_list_filters(services, client):
    frame_id = add_frame(services)
    came_from = "http://localhost/frames?filter=L&page=1"
    html = client.get(f"/frames/{frame_id}", headers={"Referer": came_from}).data.decode()
    assert 'href="http://localhost/frames?filter=L&amp;page=1" class="back"' in html
    html = client.get(f"/frames/{frame_id}", headers={"Referer": "https://elsewhere.example/"}).data.decode()
    assert 'href="/frames" class="back"' in html


def test_frame_without_header_or_preview(services, client):
    frame_id = add_frame(services)
    with services.sessions() as session:
        session.delete(session.get(Frame, frame_id).header)
        session.commit()
    html = client.get(f"/frames/{frame_id}").data.decode()
    assert "No header was stored" in html and "no preview" in html
    assert client.get("/api/v1/frames/%d" % frame_id).json["header"] == []


def test_object_names_and_header_values_are_escaped(services, client):
    script = "<script>alert(1)</script>"
    frame_id = add_frame(services, object_name=script, thumb=png_bytes(), reject_reason='"><img src=x>',
                         accepted=False, warnings=[script],
                         cards=[["OBJECT", script, script], ["NOTE", '"><b>bold</b>', ""]])
    for url in ("/frames", f"/frames/{frame_id}"):
        html = client.get(url).data.decode()
        assert "<script>alert" not in html and "<b>bold" not in html and "<img src=x>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;b&gt;bold&lt;/b&gt;" in client.get(f"/frames/{frame_id}").data.decode()


def test_thumb_and_preview_images(services, client):
    thumb, preview = png_bytes(size=(20, 10)), png_bytes(size=(200, 100))
    frame_id = add_frame(services, thumb=thumb, preview=preview)
    response = client.get(f"/frames/{frame_id}/thumb.png")
    assert response.status_code == 200 and response.data == thumb and response.mimetype == "image/png"
    assert "max-age=86400" in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]
    again = client.get(f"/frames/{frame_id}/thumb.png", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/frames/{frame_id}/preview.png").data == preview


def test_missing_images_and_frames_are_404(services, client):
    no_images = add_frame(services)
    gone = add_frame(services, thumb=png_bytes())
    with services.sessions() as session:
        services.store.delete(session.get(Frame, gone).thumb_key)
    assert client.get(f"/frames/{no_images}/thumb.png").status_code == 404
    assert client.get(f"/frames/{no_images}/preview.png").status_code == 404
    assert client.get(f"/frames/{gone}/thumb.png").status_code == 404
    missing = client.get("/frames/9999")
    assert missing.status_code == 404 and b"Not Found" in missing.data
    assert client.get("/frames/9999/download").status_code == 404


def test_download_returns_the_fits_bytes(services, client):
    data = b"SIMPLE  =                    T" + b" " * 2850
    named = add_frame(services, fits=data, original_name="Light_M31_120s_0001.fits")
    response = client.get(f"/frames/{named}/download")
    assert response.status_code == 200 and response.data == data
    assert response.mimetype == "application/fits"
    assert response.headers["Content-Disposition"] == "attachment; filename=Light_M31_120s_0001.fits"
    assert int(response.headers["Content-Length"]) == len(data)
    assert "private" in response.headers["Cache-Control"]

    unnamed = add_frame(services, fits=data, original_name=None, sha256="ab" * 32)
    disposition = client.get(f"/frames/{unnamed}/download").headers["Content-Disposition"]
    assert disposition == f"attachment; filename={'ab' * 32}.fits"

    pathy = add_frame(services, fits=data, original_name="C:\\captures\\night 1\\frame_é.fits")
    disposition = client.get(f"/frames/{pathy}/download").headers["Content-Disposition"]
    assert "filename*=UTF-8''frame_%C3%A9.fits" in disposition and "captures" not in disposition

    lost = add_frame(services)  # row without its object
    assert client.get(f"/frames/{lost}/download").status_code == 404


class RemoteStore(ObjectStore):
    """Stands in for S3: objects in a dict, no files the portal could send directly, and it can fail."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.failing = False

    def _read(self, key):
        if self.failing:
            raise ObjectStoreError("S3 server unreachable")
        return self.objects[key]

    def put_bytes(self, key, data, content_type="application/octet-stream"):
        self.objects[key] = bytes(data)

    def put_file(self, key, path, content_type="application/fits"):
        self.objects[key] = Path(path).read_bytes()

    def get_bytes(self, key):
        return self._read(key)

    def get_file(self, key, path):
        Path(path).write_bytes(self._read(key))

    def stat(self, key):
        return None

    def delete(self, key):
        self.objects.pop(key, None)

    def list(self, prefix=""):
        return iter(())


@pytest.fixture
def remote(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch, store=RemoteStore())
    add_user(services)
    client = make_app(services).test_client()
    login(client)
    yield services, client
    services.close()


def test_download_from_a_remote_store_goes_through_a_temporary_file(remote, tmp_path, monkeypatch):
    services, client = remote
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)
    data = bytes(range(256)) * 20
    frame_id = add_frame(services, fits=data, thumb=png_bytes())
    response = client.get(f"/frames/{frame_id}/download")
    assert response.data == data and int(response.headers["Content-Length"]) == len(data)
    response.close()
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing left behind
    lost = add_frame(services)
    assert client.get(f"/frames/{lost}/download").status_code == 404

    services.store.failing = True
    unavailable = client.get(f"/frames/{frame_id}/download")
    assert unavailable.status_code == 503 and b"Service Unavailable" in unavailable.data
    assert client.get(f"/frames/{frame_id}/thumb.png").status_code == 503
    assert list((tmp_path / "tmp").iterdir()) == []
