"""What an ingested frame sets in motion: a rebuild of its calibration group, or a live-stack update,
and for a light frame the photometry runs that follow its target (``science.followed_runs``).

Runs on ``frame.ingested`` events and only enqueues jobs; the work itself is in the actors, where it
is retried and dead-lettered like any job. A rebuild job waits ``debounce_s`` so a batch of frames
ends in one master (see ``build.rebuild_master``, which also skips a group still receiving frames).
"""
from __future__ import annotations

import logging

import dramatiq

from common import names
from common.contracts import FrameIngested, Message, UpdateLiveStack
from master.models import Frame
from master.science.followed_runs import queue_followed_runs

from .groups import frame_meta, group_job

log = logging.getLogger(__name__)


def enqueue(broker: dramatiq.Broker, actor: str, job: Message, delay_ms: int = 0) -> None:
    message = dramatiq.Message(queue_name=names.PROCESSING_QUEUE, actor_name=actor, args=(job.to_wire(),),
                               kwargs={}, options={})
    broker.enqueue(message, delay=delay_ms or None)


def on_frame_ingested(services, message: FrameIngested) -> str | None:
    """Enqueue the job this frame calls for; returns the actor name, or None."""
    if message.duplicate or not message.accepted:
        return None
    with services.sessions() as session:
        frame = session.get(Frame, message.frame_id)
        if frame is None:
            return None
        meta = frame_meta(frame)
        target, filter_name = frame.target_name, frame.filter_name
    if meta.frame_type == "light":
        queue_followed_runs(services, target, filter_name)
    settings = services.config.library
    job = group_job(meta, settings.temp_tolerance_c)
    if job is not None:
        enqueue(services.job_broker, names.REBUILD_MASTER_ACTOR, job, int(settings.debounce_s * 1000))
        return names.REBUILD_MASTER_ACTOR
    if meta.frame_type == "light" and settings.live_stack:
        enqueue(services.job_broker, names.UPDATE_LIVE_STACK_ACTOR, UpdateLiveStack(frame_id=message.frame_id))
        return names.UPDATE_LIVE_STACK_ACTOR
    return None
