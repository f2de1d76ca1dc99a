"""The frame rows a report is made of, and the nights that have any."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from statistics import median

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from master.models import Frame, Target


def target_frames(session: Session, target: Target) -> list[Frame]:
    """The target's light frames, matched by name as ingest files them (or by id when linked)."""
    return list(session.scalars(
        select(Frame).where(Frame.frame_type == "light",
                            or_(Frame.target_name == target.name, Frame.target_id == target.id))
        .order_by(Frame.date_obs.nulls_last(), Frame.id)))


def night_frames(session: Session, night: date) -> list[Frame]:
    return list(session.scalars(select(Frame).where(Frame.night == night).order_by(Frame.date_obs, Frame.id)))


@dataclass
class NightSummary:
    night: date
    frames: int
    accepted_lights: int
    accepted_s: float
    targets: int


def nights(session: Session, limit: int = 400) -> list[NightSummary]:
    """Nights with frames, newest first."""
    light_ok = (Frame.frame_type == "light") & Frame.accepted.is_(True)
    rows = session.execute(
        select(Frame.night, func.count(Frame.id), func.sum(case((light_ok, 1), else_=0)),
               func.sum(case((light_ok, Frame.exposure_s), else_=0.0)),
               func.count(func.distinct(case((Frame.frame_type == "light", Frame.target_name)))))
        .where(Frame.night.is_not(None)).group_by(Frame.night).order_by(Frame.night.desc()).limit(limit))
    return [NightSummary(night, count, int(ok or 0), float(seconds or 0.0), targets)
            for night, count, ok, seconds, targets in rows]


def night_window(night: date, frames: list[Frame]) -> tuple[datetime, datetime]:
    """Local mean noon to noon, as ingest dates nights, at the longitude the night's frames were taken
    from (0° when none says)."""
    longitudes = [f.site_lon for f in frames if f.site_lon is not None]
    shift = timedelta(hours=(median(longitudes) if longitudes else 0.0) / 15.0)
    start = datetime.combine(night, time(12), tzinfo=timezone.utc) - shift
    return start, start + timedelta(days=1)
