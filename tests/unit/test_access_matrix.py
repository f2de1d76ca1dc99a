"""Every route of the portal, for every kind of visitor, answers as this table says.

The test walks ``app.url_map``: a route that is not in ``EXPECTED`` fails it, so a new
route cannot be added without deciding who may use it (and ``master.web.access``
refuses endpoints it has no rule for).
"""
from __future__ import annotations

import numpy as np
import pytest
from flask import Blueprint

from master.models import ApiToken, Frame, ImagingPlan, PhotometryRun, PlanRow, Target, Telescope
from master.science.products import store_product
from master.web.tokens import hash_token
from tests.unit.test_viewer_pyramid import fits_bytes
from tests.unit.test_web_support import add_frame, add_user, login, make_app, make_services, png_bytes

ANON, GUEST, OBSERVER, ADMIN = "anonymous", "guest", "observer", "admin"
VISITORS = (ANON, GUEST, OBSERVER, ADMIN)
RANK = {role: rank for rank, role in enumerate(VISITORS)}


def rule(least: str, ok: int = 200, login_status: int = 302) -> dict[str, set[int]]:
    """``least`` and above get ``ok``; anonymous below it are sent to log in (or 401), others get 403."""
    return {who: {ok} if RANK[who] >= RANK[least] else ({login_status} if who == ANON else {403})
            for who in VISITORS}


def api(least: str) -> dict[str, set[int]]:
    return rule(least, login_status=401)


LOGGED_IN_ARE_SENT_ON = {ANON: {200}, GUEST: {302}, OBSERVER: {302}, ADMIN: {302}}

# (endpoint, method) -> visitor -> allowed status codes
EXPECTED: dict[tuple[str, str], dict[str, set[int]]] = {
    ("static", "GET"): rule(ANON),
    ("health.health", "GET"): rule(ANON),
    ("auth.login", "GET"): LOGGED_IN_ARE_SENT_ON,
    ("auth.login", "POST"): LOGGED_IN_ARE_SENT_ON,  # anonymous: the form again, "enter a username"
    ("public.targets", "GET"): rule(ANON),
    ("public.api_targets", "GET"): api(ANON),
    ("public.preview", "GET"): rule(ANON),  # the site's frame belongs to its public target
    ("public.api_frames", "GET"): api(ANON),
    ("public.api_weather", "GET"): api(ANON),
    ("index", "GET"): rule(GUEST, ok=302),
    ("auth.logout", "POST"): rule(GUEST, ok=302),
    ("account.index", "GET"): rule(GUEST),
    ("account.password", "POST"): rule(OBSERVER, ok=302),
    ("account.create_token", "POST"): rule(OBSERVER),
    ("account.revoke_token", "POST"): rule(OBSERVER, ok=302),
    ("frames.index", "GET"): rule(GUEST),
    ("frames.detail", "GET"): rule(GUEST),
    ("frames.thumb", "GET"): rule(GUEST),
    ("frames.preview", "GET"): rule(GUEST),
    ("frames.download", "GET"): rule(GUEST),
    ("frames.set_public", "POST"): rule(OBSERVER, ok=302),
    ("calibration.index", "GET"): rule(GUEST),
    # Open to anonymous visitors for public frames only (the matrix's frame is private: they are sent to
    # log in, as for any guest route); PUBLIC_FRAME below states what they get for a public one.
    ("viewer.frame", "GET"): rule(GUEST),
    ("viewer.object_", "GET"): rule(GUEST, ok=302),  # the key is a frame's: sent on to its viewer page
    ("viewer.info", "GET"): rule(GUEST),
    ("viewer.tile", "GET"): rule(GUEST),
    ("viewer.pixel", "GET"): rule(GUEST),
    ("viewer.stars", "GET"): rule(GUEST),
    ("viewer.download", "GET"): rule(GUEST),
    ("nodes.index", "GET"): rule(GUEST),
    ("observatory.index", "GET"): rule(GUEST),
    ("observatory.api_safety", "GET"): api(GUEST),
    ("observatory.roof_command", "POST"): rule(OBSERVER, ok=302),
    ("targets.index", "GET"): rule(GUEST),
    ("targets.detail", "GET"): rule(GUEST),
    ("targets.export", "GET"): rule(GUEST),
    ("targets.api_list", "GET"): api(GUEST),
    ("targets.api_search", "GET"): api(GUEST),
    ("targets.add_catalog", "POST"): rule(OBSERVER, ok=302),
    ("targets.add_coordinates", "POST"): rule(OBSERVER, ok=302),
    ("targets.delete", "POST"): rule(OBSERVER, ok=302),
    ("targets.import_", "POST"): rule(OBSERVER, ok=302),
    ("equipment.index", "GET"): rule(GUEST),
    ("equipment.item", "GET"): rule(GUEST),
    ("equipment.add", "POST"): rule(OBSERVER, ok=302),
    ("equipment.edit", "POST"): rule(OBSERVER, ok=302),
    ("equipment.remove", "POST"): rule(OBSERVER, ok=302),
    ("plans.index", "GET"): rule(GUEST),
    ("plans.detail", "GET"): rule(GUEST),
    ("plans.api_list", "GET"): api(GUEST),
    ("plans.api_plan", "GET"): api(GUEST),
    ("plans.add", "POST"): rule(OBSERVER, ok=302),
    ("plans.edit", "POST"): rule(OBSERVER, ok=302),
    ("plans.add_row", "POST"): rule(OBSERVER, ok=302),
    ("plans.delete_row", "POST"): rule(OBSERVER, ok=302),
    ("plans.remove", "POST"): rule(OBSERVER, ok=302),
    ("tonight.index", "GET"): rule(GUEST),
    ("tonight.ekos", "GET"): rule(GUEST, ok=404),  # the matrix's site has no telescope node binding
    ("tonight.send", "POST"): rule(OBSERVER, ok=302),
    ("tonight.replan", "POST"): rule(OBSERVER, ok=302),
    ("science.runs", "GET"): rule(GUEST),
    ("science.run", "GET"): rule(GUEST),
    ("science.download", "GET"): rule(GUEST),
    ("science.start_run", "POST"): rule(OBSERVER, ok=302),
    ("science.fit_transit", "POST"): rule(OBSERVER, ok=302),
    ("stacks.start", "POST"): rule(OBSERVER, ok=302),
    ("stacks.preview", "GET"): rule(GUEST, ok=404),  # the matrix's product is a light curve, not an image
    ("reports.target", "GET"): rule(GUEST),
    ("reports.target_csv", "GET"): rule(GUEST),
    ("reports.nights", "GET"): rule(GUEST),
    ("reports.night", "GET"): rule(GUEST),
    ("reports.night_csv", "GET"): rule(GUEST),
    ("reports.night_safety_csv", "GET"): rule(GUEST),
    ("api.frames", "GET"): api(GUEST),
    ("api.frame", "GET"): api(GUEST),
    ("api.nodes", "GET"): api(GUEST),
    ("links.api_frame_link", "GET"): api(GUEST),
    ("users.index", "GET"): rule(ADMIN),
    ("users.create", "POST"): rule(ADMIN, ok=302),
    ("users.set_active", "POST"): rule(ADMIN, ok=302),
    ("users.reset_password", "POST"): rule(ADMIN, ok=302),
    ("users.set_role", "POST"): rule(ADMIN, ok=302),
    ("users.delete_user", "POST"): rule(ADMIN, ok=302),
}

# Form data that makes an allowed POST do its real work (CSRF is off in this app).
POST_DATA = {
    "users.create": {"username": "newcomer", "role": "guest", "password": "long enough"},
    "users.set_active": {"active": "0"},
    "users.reset_password": {"password": "another password"},
    "users.set_role": {"role": "guest"},
    "users.delete_user": {"confirm": "victim"},
    "targets.add_coordinates": {"name": "Field", "ra": "10:00:00", "dec": "+10"},
    "targets.add_catalog": {"catalog_name": "M 31"},
    "account.create_token": {"name": "script", "scope": "read"},
    "observatory.roof_command": {"action": "acknowledge"},
    "equipment.add": {"name": "Newton 200", "focal_length_mm": "800"},
    "equipment.edit": {"name": "RedCat 51", "focal_length_mm": "250"},
    "plans.add_row": {"filter_name": "Ha", "exposure_s": "600", "count": "12"},
    "science.start_run": {"target_name": "M31", "ra": "10.68", "dec": "41.27"},
    "science.fit_transit": {"period": "2.5", "t0": "2460371.4"},
    "frames.set_public": {"public": "0"},  # stays private: the rest of the matrix relies on it
}

# What every visitor gets for a frame marked public (anonymous visitors included); anything not listed
# is as EXPECTED says, e.g. the frame page, its thumbnail and its download route stay for users.
PUBLIC_FRAME: dict[str, int] = {
    "viewer.frame": 200, "viewer.info": 200, "viewer.tile": 200, "viewer.pixel": 200, "viewer.stars": 200,
    "viewer.download": 200, "links.api_frame_link": 200, "public.preview": 200,
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Services holding one row of everything a route can name, and a user per role."""
    services = make_services(tmp_path, monkeypatch)
    ids = {role: add_user(services, role, role=role) for role in (GUEST, OBSERVER, ADMIN)}
    victim = add_user(services, "victim", role="observer")
    frame_id = add_frame(services, thumb=png_bytes(), preview=png_bytes(), fits=fits_bytes(np.ones((20, 30), np.uint16)),
                         target_name="M 42")
    with services.sessions() as session:
        target = Target(name="M 42", ra_deg=83.8, dec_deg=-5.4, public=True)
        session.add(target)
        telescope = Telescope(name="RedCat", aperture_mm=51, focal_length_mm=250)
        session.add(telescope)
        plan = ImagingPlan(target=target, rows=[PlanRow(filter_name="L", exposure_s=300, count=10)])
        session.add(plan)
        run = PhotometryRun(target_name="M31", ra_deg=10.68, dec_deg=41.27, state="done")
        session.add(run)
        session.flush()
        product = store_product(session, services.store, kind="lightcurve_csv", key="products/photometry/run-1/lc.csv",
                                data=b"bjd_tdb,mag\n", parameters={}, frame_ids=[frame_id], photometry_run_id=run.id)
        tokens = {role: ApiToken(user_id=user_id, name="t", token_hash=hash_token(f"tok-{role}"))
                  for role, user_id in {**ids, ANON: victim}.items()}
        session.add_all(tokens.values())
        session.commit()
        frame_key = session.get(Frame, frame_id).key
        params = {role: {"frame_id": frame_id, "target_id": target.id, "user_id": victim,
                         "token_id": tokens[role].id, "filename": "obsy.css", "node": "roof1",
                         "kind_name": "telescopes", "item_id": telescope.id,
                         "plan_id": plan.id, "row_id": plan.rows[0].id, "key": frame_key,
                         "level": 0, "x": 0, "y": 0, "run_id": run.id, "product_id": product.id,
                         "night": "2024-01-05"}
                  for role in VISITORS}
    yield services, params
    services.close()


def requests_of(app) -> list[tuple[str, str, object]]:
    """(endpoint, method, rule) for every route: reads first, then writes, deleting the victim user
    and logging out last."""
    found = [(r.endpoint, method, r) for r in app.url_map.iter_rules()
             for method in sorted(r.methods - {"HEAD", "OPTIONS"})]
    last = {"users.delete_user": 1, "auth.logout": 2}
    return sorted(found, key=lambda item: (item[1] != "GET", last.get(item[0], 0), item[0]))


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_route_answers_each_visitor_as_the_table_says(site, visitor):
    services, params = site
    app = make_app(services)
    client = app.test_client()
    if visitor != ANON:
        assert login(client, visitor).status_code == 302
    checked, wrong = set(), []
    for endpoint, method, url_rule in requests_of(app):
        assert (endpoint, method) in EXPECTED, f"{method} {url_rule.rule} ({endpoint}) has no row in EXPECTED"
        url = url_rule.build({name: params[visitor][name] for name in url_rule.arguments})[1]
        response = client.open(url, method=method, data=POST_DATA.get(endpoint, {}))
        if response.status_code not in EXPECTED[(endpoint, method)][visitor]:
            wrong.append(f"{visitor} {method} {url}: {response.status_code}, "
                         f"expected {sorted(EXPECTED[(endpoint, method)][visitor])}")
        checked.add((endpoint, method))
    assert wrong == []
    assert checked == set(EXPECTED), "EXPECTED has rows for routes that no longer exist"


@pytest.mark.parametrize("visitor", VISITORS)
def test_a_public_frame_is_open_to_every_visitor_and_nothing_else_opens(site, visitor):
    services, params = site
    frame_id = add_frame(services, thumb=png_bytes(), preview=png_bytes(), fits=fits_bytes(np.ones((20, 30), np.uint16)),
                         target_name="Private field", public=True)
    with services.sessions() as session:
        key = session.get(Frame, frame_id).key
    app = make_app(services)
    client = app.test_client()
    if visitor != ANON:
        assert login(client, visitor).status_code == 302
    wrong = []
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint not in PUBLIC_FRAME and url_rule.endpoint not in ("frames.detail", "frames.thumb"):
            continue
        url = url_rule.build({name: {"frame_id": frame_id, "key": key}.get(name, params[visitor][name])
                              for name in url_rule.arguments})[1]
        expected = PUBLIC_FRAME.get(url_rule.endpoint) or EXPECTED[(url_rule.endpoint, "GET")][visitor]
        status = client.get(url).status_code
        if status not in ({expected} if isinstance(expected, int) else expected):
            wrong.append(f"{visitor} GET {url}: {status}, expected {expected}")
    assert wrong == []


def test_an_endpoint_without_an_access_rule_is_refused(services):
    app = make_app(services)
    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    app.register_blueprint(extra)
    client = app.test_client()
    login(client)  # the admin
    response = client.get("/forgotten")
    assert response.status_code == 403 and b"secret" not in response.data


def test_a_guest_cannot_change_anything_even_with_a_form(services):
    add_user(services, "visitor", role="guest")
    client = make_app(services).test_client()
    login(client, "visitor")
    response = client.post("/targets/by-coordinates", data={"name": "X", "ra": "1", "dec": "1"})
    assert response.status_code == 403
    page = client.get("/targets").data
    assert b"coords-form" not in page and b"Import" not in page
    assert b'href="/users"' not in page


def test_public_page_escapes_names_and_fits_object(services):
    evil_name = "<script>alert('name')</script>"
    evil_object = '<img src=x onerror="alert(1)">'
    with services.sessions() as session:
        session.add_all([Target(name=evil_name, ra_deg=1.0, dec_deg=2.0, public=True),
                         Target(name="Private <b>plan</b>", ra_deg=3.0, dec_deg=4.0, public=False)])
        session.commit()
    add_frame(services, target_name=evil_name, object_name=evil_object, exposure_s=1800.0)
    client = make_app(services).test_client()  # anonymous
    page = client.get("/public/targets")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "Private" not in html
    items = client.get("/api/v1/public/targets").json["items"]
    assert [item["name"] for item in items] == [evil_name]
    assert items[0]["recorded_as"] == [evil_object] and items[0]["frames"] == 1
    assert items[0]["exposure_hours"] == 0.5
    assert "notes" not in items[0] and "tags" not in items[0] and "public" not in items[0]
