"""What the record says about one node's night: the light frames taken and the unsafe stretches."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from master.models import Frame, JobRecord, SafetyRecord, SentSchedule, Target
from master.safety_timeline import Stretch, stretches

@dataclass(frozen=True)
class RanFrame:
    """A light frame ingested for the node that night."""
    target: str
    start: datetime
    exposure_s: float
    accepted: bool


STALE_S = 600.0  # as on the observatory page: a node silent longer than this says nothing


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def frames_ran(session: Session, node_name: str, start: datetime, end: datetime) -> list[RanFrame]:
    """Light frames by start time, named as their target is (the plan's name, when linked to one)."""
    rows = session.execute(select(func.coalesce(Target.name, Frame.object_name), Frame.target_name, Frame.date_obs,
                                  Frame.exposure_s, Frame.accepted)
                           .outerjoin(Target, Target.id == Frame.target_id)
                           .where(Frame.node_name == node_name, Frame.frame_type == "light",
                                  Frame.date_obs >= start, Frame.date_obs < end).order_by(Frame.date_obs))
    return [RanFrame(name or grouped or "?", _aware(at), exposure or 0.0, bool(accepted))
            for name, grouped, at, exposure, accepted in rows]


def unsafe_stretches(session: Session, start: datetime, end: datetime) -> list[Stretch]:
    """Unsafe stretches of any observatory node over the window (one installation, one sky)."""
    out = []
    for node in session.scalars(select(SafetyRecord.node_name).distinct()):
        before = session.scalars(select(SafetyRecord).where(SafetyRecord.node_name == node, SafetyRecord.at < start)
                                 .order_by(SafetyRecord.at.desc()).limit(1)).first()
        inside = list(session.scalars(select(SafetyRecord).where(SafetyRecord.node_name == node,
                                                                 SafetyRecord.at >= start, SafetyRecord.at <= end)
                                      .order_by(SafetyRecord.at)))
        out += [s for s in stretches(([before] if before else []) + inside, start, end, STALE_S) if s.state == "unsafe"]
    return sorted(out, key=lambda s: s.start)


def sent_tonight(session: Session, node_name: str, night: date) -> list[SentSchedule]:
    return list(session.scalars(select(SentSchedule).where(SentSchedule.node_name == node_name,
                                                           SentSchedule.night == night).order_by(SentSchedule.sent_at)))


def job_outcome(session: Session, job_id: str | None) -> tuple[str | None, str | None]:
    job = session.get(JobRecord, job_id) if job_id else None
    return (job.state, job.reason) if job else (None, None)
