"""Reports as CSV: one row per frame (so a spreadsheet can regroup them), and a night's safety stretches."""
from __future__ import annotations

import csv
import io

from .aggregate import filter_of

FRAME_COLUMNS = ("frame_id", "night", "date_obs_utc", "target", "frame_type", "filter", "exposure_s", "accepted",
                 "reject_reason", "hfr_px", "fwhm_px", "star_count", "background", "noise", "eccentricity", "node")
SAFETY_COLUMNS = ("node", "state", "start_utc", "end_utc", "duration_s", "reasons")


def _iso(when) -> str:
    if when is None:
        return ""
    return when.isoformat() if when.tzinfo else when.isoformat() + "+00:00"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def frames_csv(frames) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FRAME_COLUMNS)
    for f in frames:
        writer.writerow([f.id, f.night.isoformat() if f.night else "", _iso(f.date_obs), f.target_name or "",
                         f.frame_type, filter_of(f), _cell(f.exposure_s), "yes" if f.accepted else "no",
                         "" if f.accepted else (f.reject_reason or ""), _cell(f.hfr_px), _cell(f.fwhm_px),
                         _cell(f.star_count), _cell(f.background), _cell(f.noise), _cell(f.eccentricity),
                         f.node_name or ""])
    return out.getvalue()


def safety_csv(timelines: dict) -> str:
    """``timelines``: node -> stretches (``master.safety_timeline.Stretch``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SAFETY_COLUMNS)
    for node, parts in timelines.items():
        for s in parts:
            writer.writerow([node, s.state, _iso(s.start), _iso(s.end), f"{(s.end - s.start).total_seconds():.0f}",
                             "; ".join(s.reasons)])
    return out.getvalue()
