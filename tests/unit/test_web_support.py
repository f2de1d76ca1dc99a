"""Shared helpers for the portal's unit tests (imported by the test_web_* modules; holds no tests)."""
from __future__ import annotations

import io
import itertools
from datetime import date, datetime, timedelta, timezone

from PIL import Image
from werkzeug.security import generate_password_hash

from common.config import load_config
from common.objectstore import LocalObjectStore
from master.models import Base, Frame, FrameHeader, User
from master.services import MasterServices
from master.web import create_app

PASSWORD = "correct horse battery"
FAST_HASH = "pbkdf2:sha256:1000"  # the tests' own users: quick to check, same code path
_numbers = itertools.count(1)


def png_bytes(color=(90, 110, 140), size=(48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def make_services(tmp_path, monkeypatch, store=None, **config) -> MasterServices:
    """Services on a fresh SQLite file and a local store, with no user config read."""
    (tmp_path / "config").mkdir(exist_ok=True)
    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    config.setdefault("catalog", {"enabled": False})  # unit tests never ask CDS unless they give a server
    settings = load_config("master", None, database={"url": f"sqlite:///{tmp_path / 'obsy.db'}"},
                           store={"kind": "local", "path": str(tmp_path / "store")}, **config)
    services = MasterServices(settings, store=store or LocalObjectStore(tmp_path / "store"), migrate=False)
    Base.metadata.create_all(services.engine)  # unit tests: the models' schema, without Alembic's cost
    return services


def make_app(services, csrf: bool = False):
    app = create_app(services)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=csrf)
    return app


def add_user(services, username="admin", password=PASSWORD, active=True, role="admin") -> int:
    with services.sessions() as session:
        user = User(username=username, password_hash=generate_password_hash(password, method=FAST_HASH),
                    role=role, active=active)
        session.add(user)
        session.commit()
        return user.id


def login(client, username="admin", password=PASSWORD, next_page=None):
    url = "/login" + (f"?next={next_page}" if next_page else "")
    return client.post(url, data={"username": username, "password": password})


def frame_values(**fields) -> dict:
    number = next(_numbers)
    sha = f"{number:064x}"
    values = dict(
        sha256=sha, key=f"frames/2024-01-05/M31/L/{sha}.fits", size=2880, original_name=f"M31_L_{number:04d}.fits",
        node_name="scope1", frame_type="light", filter_name="L", exposure_s=120.0, object_name="M 31",
        target_name="M31", date_obs=datetime(2024, 1, 5, 21, 0, tzinfo=timezone.utc) + timedelta(minutes=number),
        night=date(2024, 1, 5), star_count=420, hfr_px=2.25, fwhm_px=3.1, accepted=True,
    )
    values.update(fields)
    return values


def add_frame(services, *, cards=None, thumb: bytes | None = None, preview: bytes | None = None,
              fits: bytes | None = None, **fields) -> int:
    """One frame row (with its header), and its objects in the store when bytes are given."""
    values = frame_values(**fields)
    if fits is not None:
        services.store.put_bytes(values["key"], fits)
        values["size"] = len(fits)
    for name, data in (("thumb_key", thumb), ("preview_key", preview)):
        if data is not None:
            values[name] = f"previews/{values['sha256']}/{name[:-4]}.png"
            services.store.put_bytes(values[name], data)
    if cards is None:
        cards = [["SIMPLE", True, "conforms to FITS"], ["OBJECT", values["object_name"], "target"],
                 ["EXPTIME", values["exposure_s"], "seconds"], ["FILTER", values["filter_name"], ""]]
    text = "\n".join(f"{k} = {v}" + (f" / {c}" if c else "") for k, v, c in cards)
    with services.sessions() as session:
        frame = Frame(**values)
        frame.header = FrameHeader(cards=cards, text=text)
        session.add(frame)
        session.commit()
        return frame.id


def add_frames(services, count: int, **fields) -> None:
    """Many rows at once, without store objects or headers."""
    with services.sessions() as session:
        session.add_all(Frame(**frame_values(**fields)) for _ in range(count))
        session.commit()
