"""The calibration page: masters with their inputs and viewer links, superseded ones apart."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select

from master.models import Frame, LiveStack, MasterFrame

from .test_viewer_pyramid import fits_bytes
from .test_web_support import add_frame, add_user, login, make_app, make_services


def add_master(services, frame_ids, superseded=False, **fields) -> MasterFrame:
    values = dict(kind="dark", group_path="dark/Cam/bin1x1/gain100_offset50/-10C/60s/no-filter", camera="Cam",
                  binning_x=1, binning_y=1, gain=100, offset=50, temperature=-10.0, exposure_s=60.0,
                  n_inputs=len(frame_ids), inputs_sha256=f"{len(frame_ids):064x}", sha256="ab" * 32,
                  key=f"masters/dark/Cam/bin1x1/gain100_offset50/-10C/60s/no-filter/{len(frame_ids):064x}.fits",
                  quality={"median": 12.0, "noise": 1.25, "bad_pixels": 7},
                  superseded_at=datetime(2024, 1, 6, tzinfo=timezone.utc) if superseded else None)
    values.update(fields)
    with services.sessions() as session:
        row = MasterFrame(**values)
        row.inputs = session.scalars(select(Frame).where(Frame.id.in_(frame_ids))).all()
        session.add(row)
        session.commit()
        return row.id


def test_masters_are_listed_with_inputs_and_viewer_links(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    add_user(services, "guest", role="guest")
    darks = [add_frame(services, frame_type="dark", original_name=f"dark_{i}.fits") for i in range(3)]
    old = add_master(services, darks[:2], superseded=True)
    new = add_master(services, darks)
    with services.sessions() as session:
        session.add(LiveStack(night=datetime(2024, 1, 5).date(), target_name="M31", filter_name="L", n_frames=4,
                              key="stacks/live/2024-01-05/M31/L.fits", preview_key="stacks/live/2024-01-05/M31/L.png"))
        session.commit()
        new_key, old_key = session.get(MasterFrame, new).key, session.get(MasterFrame, old).key
    client = make_app(services).test_client()
    login(client, "guest")
    page = client.get("/calibration").get_data(as_text=True)
    current, _, superseded = page.partition('id="superseded"')
    assert f'href="/view/{new_key}"' in current and f'href="/view/{old_key}"' in superseded
    assert f'href="/view/{old_key}"' not in current
    row = re.search(rf'<tr data-master="{new}">.*?</tr>', current, re.S).group(0)
    assert all(f'href="/frames/{i}"' in row and f"dark_{darks.index(i)}.fits" in row for i in darks)
    assert "noise 1.25" in row and "7 hot px" in row and "-10.0" in row
    assert 'href="/view/stacks/live/2024-01-05/M31/L.fits"' in page
    services.store.put_bytes(new_key, fits_bytes(np.ones((20, 30), np.float32)))
    assert client.get(f"/view/{new_key}").status_code == 200  # the link opens the viewer
    services.close()


def test_empty_library_says_how_masters_appear(tmp_path, monkeypatch):
    services = make_services(tmp_path, monkeypatch)
    add_user(services, "guest", role="guest")
    client = make_app(services).test_client()
    login(client, "guest")
    page = client.get("/calibration").get_data(as_text=True)
    assert "No master yet" in page and 'id="superseded"' not in page
    services.close()
