"""What nodes tell the master: heartbeats, job progress, safety verdicts, roof states and answers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from common.contracts import CloudMap, JobProgress, NodeHeartbeat, RoofCommandResult, RoofState, SafetyState, WeatherReport
from .models import CloudMapRecord, JobRecord, Node, RoofCommandRecord, RoofRecord, SafetyRecord, WeatherRecord


def record_heartbeat(sessions, beat: NodeHeartbeat) -> None:
    with sessions() as session:
        node = session.scalar(select(Node).where(Node.name == beat.node))
        if node is None:
            node = Node(name=beat.node, role=beat.role)
            session.add(node)
        # An old heartbeat delivered late must not roll the state back.
        if node.last_seen is not None and _aware(node.last_seen) > beat.sent_at:
            return
        node.role = beat.role
        node.software_version = beat.software_version
        node.state = beat.state[:60]
        node.spool_backlog = beat.spool_backlog
        node.detail = beat.detail
        node.last_seen = beat.sent_at
        session.commit()


def _aware(when: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone columns.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def is_online(node: Node, offline_after_s: float, now: datetime | None = None) -> bool:
    if node.last_seen is None:
        return False
    now = now or datetime.now(timezone.utc)
    return now - _aware(node.last_seen) <= timedelta(seconds=offline_after_s)


def record_job_progress(sessions, progress: JobProgress) -> None:
    with sessions() as session:
        job = session.get(JobRecord, progress.job_id)
        if job is None:
            job = JobRecord(job_id=progress.job_id, node_name=progress.node)
            session.add(job)
        elif job.updated_at is not None and _aware(job.updated_at) > progress.sent_at:
            return  # progress arrives in order per node, but a redelivery may be late
        job.state = progress.state
        job.updated_at = progress.sent_at
        if progress.target is not None:
            job.target = progress.target[:200]
        if progress.filter_name is not None or progress.state == "slewing":
            job.filter_name = progress.filter_name
        if progress.frame_index is not None:
            job.frames_done = progress.frame_index if progress.state != "exposing" else progress.frame_index - 1
        job.frame_total = progress.frame_total
        job.reason = progress.reason
        session.commit()


def record_safety(sessions, verdict: SafetyState) -> None:
    with sessions() as session:
        session.add(SafetyRecord(node_name=verdict.node, state=verdict.state, reasons=verdict.reasons,
                                 at=verdict.sent_at))
        session.commit()


def record_weather(sessions, report: WeatherReport) -> None:
    with sessions() as session:
        session.add(WeatherRecord(node_name=report.node, measured_at=report.measured_at, values=report.values))
        session.commit()


def record_cloud_map(sessions, cloud_map: CloudMap) -> None:
    with sessions() as session:
        session.add(CloudMapRecord(node_name=cloud_map.node, source=cloud_map.source[:63], taken_at=cloud_map.taken_at,
                                   label=cloud_map.label[:20], cloud_fraction=cloud_map.cloud_fraction,
                                   regions=cloud_map.regions))
        session.commit()


def record_roof_state(sessions, roof: RoofState) -> None:
    with sessions() as session:
        session.add(RoofRecord(node_name=roof.node, state=roof.state, activity=roof.activity[:20],
                               alarm=roof.alarm, alarm_level=roof.alarm_level, mount_parked=roof.mount_parked,
                               at=roof.sent_at))
        session.commit()


def record_roof_result(sessions, result: RoofCommandResult) -> None:
    """The node's answer to a command sent from the portal (a command sent elsewhere is kept too)."""
    with sessions() as session:
        row = session.get(RoofCommandRecord, result.command_id)
        if row is None:
            row = RoofCommandRecord(command_id=result.command_id, node_name=result.node, action=result.action[:20],
                                    user_name="", sent_at=result.sent_at)
            session.add(row)
        row.accepted, row.reason, row.answered_at = result.accepted, result.reason, result.sent_at
        session.commit()
