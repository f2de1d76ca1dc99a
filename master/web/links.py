"""Direct download links: a presigned S3 URL when the store is S3, the portal's own route otherwise.

A presigned URL lets a browser, ``curl`` or a download manager fetch a FITS file straight from the
object store for a limited time, without the portal streaming it. The local-directory store has no
server of its own, so its "link" is the portal's download route (which needs a login unless the
frame is public) and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePath

from flask import Blueprint, abort, jsonify, url_for
from flask_login import current_user

from common.objectstore import ObjectStoreError
from master.models import Frame
from .access import public_or_login
from .context import db, services

bp = Blueprint("links", __name__)

LOCAL_NOTE = ("The repository is a local directory, which has no download server of its own: "
              "this link is the portal's download route.")


def download_name(frame: Frame) -> str:
    name = PurePath((frame.original_name or "").replace("\\", "/")).name
    return name or f"{frame.sha256}.fits"


@dataclass
class Link:
    url: str
    direct: bool
    expires_at: datetime | None
    note: str

    def to_dict(self) -> dict:
        return {"url": self.url, "direct": self.direct, "note": self.note,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}


def portal_route(frame: Frame) -> str:
    """The portal's own download of the frame: the frame's route for users, the viewer's (which serves
    public frames to anyone) for anonymous visitors."""
    if current_user.is_authenticated:
        return url_for("frames.download", frame_id=frame.id, _external=True)
    return url_for("viewer.download", key=frame.key, _external=True)


def frame_link(frame: Frame) -> Link:
    """The frame's FITS as a time-limited presigned URL, or the portal's route when the store can't sign."""
    expires_s = services().config.store.link_expiry_s
    try:
        url = services().store.presigned_get(frame.key, expires_s, download_name(frame))
    except ObjectStoreError as exc:
        return Link(portal_route(frame), False, None,
                    f"No direct link: the object store failed ({exc}); this is the portal's download route.")
    if url is None:
        return Link(portal_route(frame), False, None, LOCAL_NOTE)
    expires_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=expires_s)
    return Link(url, True, expires_at, f"Direct from the object store; valid for {expires_s // 60} min.")


@bp.get("/api/v1/frames/<int:frame_id>/link")
def api_frame_link(frame_id: int):
    """A fresh link; anonymous visitors get one only for a public frame (401 otherwise, as for any API route)."""
    return jsonify(frame_link(visible_frame(frame_id)).to_dict())


def visible_frame(frame_id: int) -> Frame:
    """The frame, for a logged-in user or when it is public; anonymous visitors learn nothing of others."""
    row = db().get(Frame, frame_id)
    public_or_login(lambda: row is not None and row.public)
    if row is None:
        abort(404)
    return row
