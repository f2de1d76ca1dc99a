"""The public API and previews: only targets marked public, and only their frames' previews."""
from datetime import datetime, timezone

from master.models import Target
from tests.unit.test_web_support import add_frame, login, make_app, png_bytes


def add_target(services, name, public):
    with services.sessions() as session:
        session.add(Target(name=name, ra_deg=10.0, dec_deg=20.0, public=public))
        session.commit()


def at(hour):
    return datetime(2024, 1, 5, hour, 0, tzinfo=timezone.utc)


def test_api_lists_each_public_target_with_its_latest_accepted_preview(services):
    add_target(services, "M 42", public=True)
    add_target(services, "Secret", public=False)
    add_target(services, "Empty", public=True)
    older = add_frame(services, target_name="M 42", preview=png_bytes(), date_obs=at(20), filter_name="L")
    newest = add_frame(services, target_name="M 42", preview=png_bytes(), date_obs=at(22), filter_name="Ha",
                       exposure_s=600.0, hfr_px=1.8)
    add_frame(services, target_name="M 42", preview=png_bytes(), date_obs=at(23), accepted=False)  # rejected
    add_frame(services, target_name="M 42", preview=png_bytes(), date_obs=at(23), frame_type="dark")
    add_frame(services, target_name="M 42", date_obs=at(23))  # no preview to show
    add_frame(services, target_name="Secret", preview=png_bytes())
    items = make_app(services).test_client().get("/api/v1/public/targets").json["items"]
    assert [item["name"] for item in items] == ["Empty", "M 42"]
    assert items[0]["latest"] is None
    latest = items[1]["latest"]
    assert latest == {"frame_id": newest, "filter_name": "Ha", "exposure_s": 600.0,
                      "date_obs": "2024-01-05T22:00:00+00:00", "hfr_px": 1.8,
                      "preview_path": f"/public/previews/{newest}.png"}
    assert older != newest


def test_preview_served_to_anonymous_only_while_the_target_is_public(services):
    add_target(services, "M 42", public=True)
    add_target(services, "Secret", public=False)
    image = png_bytes(color=(1, 2, 3))
    shown = add_frame(services, target_name="M 42", preview=image)
    hidden = add_frame(services, target_name="Secret", preview=png_bytes())
    orphan = add_frame(services, target_name=None, preview=png_bytes())
    bare = add_frame(services, target_name="M 42")
    client = make_app(services).test_client()  # anonymous
    response = client.get(f"/public/previews/{shown}.png")
    assert response.status_code == 200 and response.data == image and response.mimetype == "image/png"
    assert response.cache_control.public and response.cache_control.max_age == 300
    for frame_id in (hidden, orphan, bare, 9999):
        assert client.get(f"/public/previews/{frame_id}.png").status_code == 404, frame_id
    # Logged-in users use the portal's own routes; this one hides non-public frames from them too.
    login(client)  # the fixture's admin
    assert client.get(f"/public/previews/{hidden}.png").status_code == 404
    # Made private again: no longer served.
    with services.sessions() as session:
        session.query(Target).filter_by(name="M 42").one().public = False
        session.commit()
    client.post("/logout")
    assert client.get(f"/public/previews/{shown}.png").status_code == 404
