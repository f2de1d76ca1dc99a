"""The public gallery, read from the master's public API on a cadence and kept in memory.

Every refresh fetches ``/api/v1/public/targets`` and the preview of each target's latest frame, and
``/api/v1/public/frames`` (the frames marked public) with their previews (previews already held are
not fetched again; a master without the frames list, answering 404, just has none). A failed refresh keeps the last good gallery and
records why and since when, so the page can say the master is unreachable and still show it.
The site serves the previews itself: browsers never need to reach the master.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

API_PATH = "/api/v1/public/targets"
FRAMES_PATH = "/api/v1/public/frames"
MAX_PREVIEW_BYTES = 8 * 1024 * 1024


class GalleryFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    frame_id: int = Field(ge=1)
    filter_name: str | None = None
    exposure_s: float | None = None
    date_obs: str | None = None
    hfr_px: float | None = None


class GalleryItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=200)
    constellation: str | None = None
    object_type: str | None = None
    frames: int = 0
    exposure_hours: float = 0.0
    latest: GalleryFrame | None = None


class PublicFrame(BaseModel):
    """A frame the master marked public: anyone may open it in the master's viewer."""
    model_config = ConfigDict(extra="ignore")
    frame_id: int = Field(ge=1)
    target_name: str | None = Field(default=None, max_length=200)
    object_name: str | None = Field(default=None, max_length=200)
    filter_name: str | None = None
    exposure_s: float | None = None
    date_obs: str | None = None
    hfr_px: float | None = None
    preview_path: str | None = None
    viewer_path: str | None = Field(default=None, pattern=r"^/frames/\d+/view$")


class GalleryError(Exception):
    pass


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def preview_path(frame_id: int) -> str:
    return f"/public/previews/{frame_id}.png"


class Gallery:
    def __init__(self, base_url: str, *, token: str = "", timeout_s: float = 10.0, refresh_s: float = 300.0,
                 max_items: int = 60, viewer_base: str = ""):
        self.base_url = base_url.rstrip("/")
        self.viewer_base = viewer_base.rstrip("/")  # the master as browsers reach it (web.master_url)
        self.timeout_s, self.refresh_s, self.max_items = timeout_s, refresh_s, max_items
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()
        self._items: list[dict] = []
        self._frames: list[dict] = []
        self._previews: dict[int, bytes] = {}
        self._status = {"fetched_at": None, "checked_at": None, "error": None, "failing_since": None}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)

    # -- fetching ----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Fetch the gallery once; True when it worked. Never raises."""
        try:
            items, frames, previews = self._fetch()
        except GalleryError as exc:
            with self._lock:
                self._status.update(checked_at=_now(), error=str(exc)[:300])
                self._status["failing_since"] = self._status["failing_since"] or self._status["checked_at"]
            log.warning("remote gallery: %s", exc)
            return False
        with self._lock:
            self._items, self._frames, self._previews = items, frames, previews
            now = _now()
            self._status.update(fetched_at=now, checked_at=now, error=None, failing_since=None)
        return True

    def _get(self, path: str) -> requests.Response:
        try:
            response = self.session.get(self.base_url + path, timeout=self.timeout_s, stream=True)
        except requests.RequestException as exc:
            raise GalleryError(f"master {self.base_url} unreachable: {type(exc).__name__}") from None
        return response

    def _list(self, path: str, model, missing_ok: bool = False) -> list:
        with self._get(path) as response:
            if response.status_code == 404 and missing_ok:
                return []
            if response.status_code != 200:
                raise GalleryError(f"master answered {response.status_code} for {path}")
            try:
                raw = response.json()["items"]
                return [model.model_validate(item) for item in raw[:self.max_items]]
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise GalleryError(f"master sent an invalid gallery: {type(exc).__name__}") from None

    def _fetch(self) -> tuple[list[dict], list[dict], dict[int, bytes]]:
        items = self._list(API_PATH, GalleryItem)
        frames = self._list(FRAMES_PATH, PublicFrame, missing_ok=True)
        with self._lock:
            held = dict(self._previews)
        wanted = [item.latest.frame_id for item in items if item.latest is not None]
        wanted += [frame.frame_id for frame in frames if frame.preview_path]
        previews = {}
        for frame_id in dict.fromkeys(wanted):
            data = held.get(frame_id) or self._preview(frame_id)
            if data is not None:
                previews[frame_id] = data
        return [item.model_dump() for item in items], [frame.model_dump() for frame in frames], previews

    def _preview(self, frame_id: int) -> bytes | None:
        """The PNG, or None when the master has none to give (the item is shown without it)."""
        response = self._get(preview_path(frame_id))
        with response:
            if response.status_code != 200 or response.headers.get("Content-Type", "") != "image/png":
                return None
            data = response.raw.read(MAX_PREVIEW_BYTES + 1, decode_content=True)
        return data if len(data) <= MAX_PREVIEW_BYTES else None

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self) -> dict:
        with self._lock:
            items = [dict(item, has_preview=bool(item["latest"]) and item["latest"]["frame_id"] in self._previews)
                     for item in self._items]
            frames = [dict(frame, has_preview=frame["frame_id"] in self._previews,
                           viewer_url=self.viewer_base + frame["viewer_path"]
                           if self.viewer_base and frame["viewer_path"] else None)
                      for frame in self._frames]
            return {"enabled": self.enabled, "items": items, "frames": frames, **self._status}

    def preview(self, frame_id: int) -> bytes | None:
        with self._lock:
            return self._previews.get(frame_id)

    # -- cadence -----------------------------------------------------------------------------

    def start(self) -> "Gallery":
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="obsy-remote-gallery", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.refresh_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)
        self.session.close()
