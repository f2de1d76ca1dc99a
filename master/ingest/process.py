"""Read, normalise, grade and preview one FITS file: pure CPU, no I/O but the read."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from master.fitsmeta.normalize import FrameMeta, normalize_header
from master.fitsmeta.reader import FitsReadError, read_fits
from master.grading import GradeResult, grade_accept, grade_image
from master.previews import make_previews
from master.processing.debayer import bayer_layout, colour_phase

__all__ = ["FitsReadError", "ProcessedFrame", "process_file", "sha256_file"]


@dataclass
class ProcessedFrame:
    meta: FrameMeta
    grade: GradeResult | None
    accepted: bool
    reject_reason: str | None
    thumb_png: bytes | None
    preview_png: bytes | None
    cards: list = field(default_factory=list)
    header_text: str = ""


def sha256_file(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _card_value(value):
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def header_cards(header) -> tuple[list, str]:
    cards, lines = [], []
    for card in header.cards:
        keyword = card.keyword
        if not keyword:
            continue
        value = _card_value(card.value)
        cards.append([keyword, value, card.comment or ""])
        lines.append(f"{keyword} = {value}" + (f" / {card.comment}" if card.comment else ""))
    return cards, "\n".join(lines)


def process_file(path: str | Path) -> ProcessedFrame:
    """Raises FitsReadError with a reason for files that are not usable FITS images."""
    header, data = read_fits(path)
    meta = normalize_header(header)
    if data is None:
        raise FitsReadError("the file has a header but no image data")
    grade = grade_image(data)
    accepted, reason = grade_accept(grade, meta)
    layout = bayer_layout(header)
    thumb, preview = make_previews(data, colour_phase(layout, data.shape[0]) if layout and data.ndim == 2 else None)
    cards, text = header_cards(header)
    return ProcessedFrame(meta, grade, accepted, reason, thumb, preview, cards, text)
