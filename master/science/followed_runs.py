"""Photometry runs that follow their target: measured again when new accepted frames arrive.

A run whose ``follow`` is set is queued again when a frame of its target is accepted, unless it is
already queued or running; a running one looks, when it ends, for frames that arrived meanwhile and
queues itself once more. So a night's light curve grows frame by frame with at most one pending run.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from common import names
from common.contracts import PhotometryJob
from common.jobs import send_science_job
from master.models import PhotometryRun

log = logging.getLogger(__name__)

__all__ = ["queue_followed_runs", "requeue"]


def requeue(services, run_id: int) -> None:
    send_science_job(services.job_broker, names.PHOTOMETRY_ACTOR, PhotometryJob(run_id=run_id))


def queue_followed_runs(services, target_name: str | None, filter_name: str | None = None) -> list[int]:
    """Queue the following runs of ``target_name`` that are idle; returns their ids."""
    if not target_name:
        return []
    with services.sessions() as session:
        runs = session.scalars(select(PhotometryRun).where(PhotometryRun.target_name == target_name,
                                                           PhotometryRun.follow.is_(True),
                                                           PhotometryRun.state.in_(("done", "failed")))).all()
        chosen = [r for r in runs if r.filter_name in (None, filter_name)]
        for run in chosen:
            run.state, run.reason = "queued", None
        session.commit()
        ids = [r.id for r in chosen]
    for run_id in ids:
        requeue(services, run_id)
        log.info("photometry run %s queued again: a new frame of %s", run_id, target_name)
    return ids
