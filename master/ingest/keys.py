"""Repository keys: where a frame is filed in the object store."""
from __future__ import annotations

import re

CALIBRATION_TYPES = {"dark", "flat", "bias", "dark_flat"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def slug(text: str | None, empty: str) -> str:
    cleaned = _UNSAFE.sub("_", (text or "").strip()).strip("._")
    return cleaned[:80] or empty


def frame_key(meta, sha256: str) -> str:
    night = meta.night.isoformat() if meta.night else "undated"
    if meta.frame_type in CALIBRATION_TYPES:
        camera = slug(meta.camera, "unknown-camera")
        return f"calibration/{meta.frame_type}/{camera}/{night}/{sha256}.fits"
    target = slug(meta.object_name, "unknown-target")
    filt = slug(meta.filter_name, "no-filter")
    return f"frames/{night}/{target}/{filt}/{sha256}.fits"


def thumb_key(sha256: str) -> str:
    return f"previews/{sha256[:2]}/{sha256}.thumb.png"


def preview_key(sha256: str) -> str:
    return f"previews/{sha256[:2]}/{sha256}.preview.png"


def rejected_key(node: str, sha256: str, suffix: str = ".fits") -> str:
    return f"rejected/{node}/{sha256}{suffix}"
