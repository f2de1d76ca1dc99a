"""Presigned download links against the real moto S3 server, through the portal's frame page and API."""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from common.objectstore import LocalObjectStore, S3ObjectStore
from tests.unit.test_web_support import add_frame, add_user, login, make_app, make_services

FITS = b"SIMPLE  =                    T" + b" " * 2850


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@pytest.fixture
def s3_portal(tmp_path, monkeypatch, s3, s3_bucket):
    store = S3ObjectStore(s3.endpoint, s3.access_key, s3.secret_key, s3_bucket, secure=False, region=s3.region)
    services = make_services(tmp_path, monkeypatch, store=store)
    services.config.store.link_expiry_s = 600
    add_user(services)
    yield services
    services.close()


def test_frame_page_and_api_give_a_presigned_link_that_fetches_the_bytes(s3_portal):
    frame_id = add_frame(s3_portal, fits=FITS, original_name='M31 "best".fits')
    client = make_app(s3_portal).test_client()
    login(client)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    answer = client.get(f"/api/v1/frames/{frame_id}/link").json
    assert answer["direct"] is True
    url = answer["url"]
    status, body = fetch(url)
    assert status == 200 and body == FITS  # a fresh GET, with no portal in between
    query = parse_qs(urlsplit(url).query)
    # moto 5 enforces neither the expiry nor the signature's value (an expired or altered link still
    # works there), only that a request is signed at all. So the test checks that the link states the
    # configured lifetime from now, which any real S3 (MinIO, AWS) enforces, and that moto refuses the
    # object without the signature.
    assert query["X-Amz-Expires"] == ["600"]
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert before - timedelta(seconds=2) <= signed <= datetime.now(timezone.utc)
    assert datetime.fromisoformat(answer["expires_at"]) - signed <= timedelta(seconds=602)
    assert 'filename="M31 best.fits"' in query["response-content-disposition"][0]
    unsigned = url.split("?", 1)[0]
    assert fetch(unsigned)[0] == 403
    page = client.get(f"/frames/{frame_id}").get_data(as_text=True)
    href = unescape(re.search(r'<a href="([^"]+)" data-direct-link', page).group(1))
    assert fetch(href) == (200, FITS)
    assert "valid until" in page


def test_a_link_to_a_missing_object_is_refused(s3_portal):
    frame_id = add_frame(s3_portal)  # a row whose object was never stored
    client = make_app(s3_portal).test_client()
    login(client)
    assert fetch(client.get(f"/api/v1/frames/{frame_id}/link").json["url"])[0] in (403, 404)  # moto: 403


def test_local_store_falls_back_to_the_portal_route_and_says_so(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    assert isinstance(services.store, LocalObjectStore)
    add_user(services)
    frame_id = add_frame(services, fits=FITS)
    client = make_app(services).test_client()
    login(client)
    answer = client.get(f"/api/v1/frames/{frame_id}/link").json
    assert answer["direct"] is False and answer["expires_at"] is None
    assert answer["url"].endswith(f"/frames/{frame_id}/download") and "local directory" in answer["note"]
    page = client.get(f"/frames/{frame_id}").get_data(as_text=True)
    assert "data-portal-link" in page and "local directory" in page
    assert client.get(urlsplit(answer["url"]).path).data == FITS
    services.close()
