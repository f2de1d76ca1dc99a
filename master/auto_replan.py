"""The master re-plans tonight by itself when the observatory turns safe again or clouds move in.

Called by the worker after it has recorded a safety verdict or a cloud map. For every bound
telescope node with a schedule sent tonight, ``replan_decision.decide`` says whether the rest of
that schedule is worth replacing; if so the night is planned again from now around the newest
cloud map (the same path as the Tonight page's "Re-plan from now") and sent with ``replaces``,
unless it would only repeat what the node still has to do.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone

import numpy as np

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from common.contracts import ScheduleJob
from common.jobs import send_schedule
from master.models import JobRecord, SafetyRecord, SentSchedule, TelescopeNode
from master.planning.sky import Site
from master.replan_decision import Decision, decide
from master.target_sky import _sidereal_deg, altitude_azimuth
from master.tonight import (NothingToSend, block_times, current_night, last_sent, plan_tonight, replan_conditions,
                            utc_now)

log = logging.getLogger(__name__)
AUTO = "obsy (automatic re-plan)"


def remaining_targets(job: ScheduleJob, record: JobRecord | None) -> list:
    """The sent job's targets still to image: from the one it is on (all of them if it has not said)."""
    if record is not None and record.state in ("done", "failed", "interrupted"):
        return []
    names = [t.name for t in job.targets]
    if record is not None and record.target in names:
        return list(job.targets[names.index(record.target):])
    return list(job.targets)


def positions_now(binding: TelescopeNode, targets, now: datetime) -> dict[str, tuple[float, float]]:
    site = binding.site
    lst = _sidereal_deg(Site(site.latitude_deg or 0.0, site.longitude_deg or 0.0), [now], np.zeros(1))
    out = {}
    for t in targets:
        alt, az = altitude_azimuth(site.latitude_deg or 0.0, t.ra_deg, t.dec_deg, lst[0, 0])
        out[t.name] = (float(alt), float(az))
    return out


def _plan_key(targets) -> list:
    return [(t.name, [(r.filter_name, r.exposure_s, r.count) for r in t.rows]) for t in targets]


def replan_and_send(session: Session, broker, binding: TelescopeNode, now: datetime, why: str,
                    sent_by: str | None) -> SentSchedule | None:
    """Plan the rest of tonight from ``now`` and send it to replace the schedule sent last; None when
    nothing is planned or the new plan is the old one's remainder."""
    night = current_night(binding, now)
    previous = last_sent(session, binding.node_name, night)
    conditions = replan_conditions(session, now)
    try:
        tonight = plan_tonight(session, binding, night, conditions)
        job = tonight.job(
            job_id=f"replan-{night.isoformat()}-{secrets.token_hex(4)}",
            replaces=previous.job_id if previous else None)
    except NothingToSend:
        return None
    if previous is not None:
        old = ScheduleJob.model_validate(previous.job)
        if _plan_key(job.targets) == _plan_key(remaining_targets(old, session.get(JobRecord, previous.job_id))):
            return None
    send_schedule(broker, job)
    row = SentSchedule(job_id=job.job_id, node_name=job.node, night=night, site_name=binding.site.name,
                       sent_by=sent_by, sent_at=job.sent_at, job=job.to_wire(), replan_reason=why,
                       blocks=block_times(tonight.plan.blocks))
    session.add(row)
    session.commit()
    return row


def consider(session: Session, broker, binding: TelescopeNode, now: datetime, min_interval_min: float, *,
             safety: str | None = None, safety_before: str | None = None) -> Decision:
    night = current_night(binding, now)
    previous = last_sent(session, binding.node_name, night)
    if previous is None:
        return Decision(False, "no schedule sent tonight")
    old = ScheduleJob.model_validate(previous.job)
    remaining = remaining_targets(old, session.get(JobRecord, previous.job_id))
    last_auto = session.scalars(select(SentSchedule.sent_at).where(
        SentSchedule.node_name == binding.node_name, SentSchedule.night == night,
        SentSchedule.sent_by == AUTO).order_by(SentSchedule.sent_at.desc()).limit(1)).first()
    clouds = replan_conditions(session, now).clouds
    decision = decide([t.name for t in remaining], now, _aware(previous.sent_at), safety=safety,
                      safety_before=safety_before, cover=clouds, positions=positions_now(binding, remaining, now),
                      last_replan_at=_aware(last_auto) if last_auto else None, min_interval_min=min_interval_min)
    if decision.replan:
        sent = replan_and_send(session, broker, binding, now, decision.why, AUTO)
        if sent is None:
            return Decision(False, "the new plan is the rest of the old one")
        log.info("re-planned %s: %s (%s replaces %s)", binding.node_name, decision.why, sent.job_id, previous.job_id)
    return decision


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def auto_replan(services, *, safety: str | None = None, safety_before: str | None = None,
                now: datetime | None = None) -> dict[str, Decision]:
    """After a safety verdict or a cloud map: each bound node's decision (node name -> decision)."""
    planner = services.config.planner
    if not planner.auto_replan:
        return {}
    now = now or utc_now()
    out = {}
    with services.sessions() as session:
        for binding in session.scalars(select(TelescopeNode).options(selectinload(TelescopeNode.site),
                                                                     selectinload(TelescopeNode.filters))):
            try:
                out[binding.node_name] = consider(session, services.job_broker, binding, now,
                                                  planner.replan_every_min, safety=safety, safety_before=safety_before)
            except Exception:  # one node's failure must not stop the events being recorded
                log.exception("automatic re-plan of %s failed", binding.node_name)
                session.rollback()
    return out


def safety_before(sessions, node_name: str) -> str | None:
    """The node's last recorded verdict (read before recording the new one)."""
    with sessions() as session:
        return session.scalars(select(SafetyRecord.state).where(SafetyRecord.node_name == node_name)
                               .order_by(SafetyRecord.at.desc(), SafetyRecord.id.desc()).limit(1)).first()
