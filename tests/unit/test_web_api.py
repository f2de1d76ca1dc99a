"""The JSON API under /api/v1."""
from __future__ import annotations

from datetime import date

import pytest

from tests.unit.test_web_support import add_frame, add_frames, png_bytes


def test_frame_list_shape(services, client):
    frame_id = add_frame(services, thumb=png_bytes(), warnings=["no FOCALLEN"])
    body = client.get("/api/v1/frames").json
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"], body["total"]) == (1, 50, 1)
    item = body["items"][0]
    assert item["id"] == frame_id and item["object_name"] == "M 31" and item["accepted"] is True
    assert item["night"] == "2024-01-05" and item["date_obs"].startswith("2024-01-05T21:")
    assert item["date_obs"].endswith("+00:00") and item["warnings"] == ["no FOCALLEN"]
    assert item["urls"] == {"page": f"/frames/{frame_id}", "thumb": f"/frames/{frame_id}/thumb.png",
                            "preview": None, "download": f"/frames/{frame_id}/download"}
    assert "header" not in item


def test_frame_list_filters_and_pages(services, client):
    add_frames(services, 30)
    add_frames(services, 7, frame_type="flat", night=date(2024, 1, 6), accepted=False)
    assert client.get("/api/v1/frames?type=flat").json["total"] == 7
    assert client.get("/api/v1/frames?night=2024-01-06&accepted=no").json["total"] == 7
    assert client.get("/api/v1/frames?accepted=yes").json["total"] == 30
    body = client.get("/api/v1/frames?per_page=8&page=5").json
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (5, 8, 37, 5)
    assert client.get("/api/v1/frames?per_page=8&page=6").json["items"] == []
    assert len(client.get("/api/v1/frames?per_page=500").json["items"]) == 37


@pytest.mark.parametrize("query,message", [
    ("per_page=501", "per_page must be at most 500"), ("per_page=0", "per_page must be at least 1"),
    ("page=-1", "page must be at least 1"), ("page=two", "page 'two' is not a whole number"),
    ("night=2024-13-01", "is not a date"), ("accepted=perhaps", "must be 'yes' or 'no'"),
])
def test_bad_parameters_are_400(client, query, message):
    response = client.get(f"/api/v1/frames?{query}")
    assert response.status_code == 400 and message in response.json["error"]


def test_frame_detail_includes_the_header(services, client):
    cards = [["SIMPLE", True, "conforms"], ["EXPTIME", 120.5, "s"], ["OBJECT", "<script>", ""]]
    frame_id = add_frame(services, cards=cards)
    item = client.get(f"/api/v1/frames/{frame_id}").json
    assert item["header"] == cards and item["id"] == frame_id and item["sha256"]
    missing = client.get("/api/v1/frames/4242")
    assert missing.status_code == 404 and missing.json == {"error": "not found"}
    assert client.get("/api/v1/unknown").json == {"error": "not found"}
    not_allowed = client.post("/api/v1/frames")
    assert not_allowed.status_code == 405 and not_allowed.json == {"error": "method not allowed"}
