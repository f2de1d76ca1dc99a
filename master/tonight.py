"""Tonight for one telescope node: its open plans, what they still need, planned over its site's sky.

The planner gets only what accepted frames have not covered yet, only the rows
whose filter the node has (when its filters are known), and only plans whose
date window holds the night.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from common.contracts import ScheduleJob
from master.models import CloudMapRecord, ImagingPlan, SentSchedule, TelescopeNode
from master.models import Site as SiteRow
from master.plan_progress import plan_progress, same_filter
from master.planning.planner import (Constraints, ExposureRow, Imaging, NightPlan, PlanRequest, plan_night,
                                     to_schedule_job)
from master.planning.conditions import CLOUD_VALID_MIN, CloudCover, SkyConditions
from master.planning.sky import NightSky, Site


class NothingToSend(Exception):
    pass


def site_zone(binding: TelescopeNode) -> ZoneInfo:
    return ZoneInfo(binding.site.timezone or "UTC")


def utc_now() -> datetime:
    """The clock the portal plans with (one place, so tests can set it)."""
    return datetime.now(timezone.utc)


def night_of(zone: ZoneInfo, now: datetime | None = None) -> date:
    """The date of the night in progress or to come: a night runs from local noon to the next noon."""
    local = (now or utc_now()).astimezone(zone)
    return (local - timedelta(hours=12)).date()


def current_night(binding: TelescopeNode, now: datetime | None = None) -> date:
    return night_of(site_zone(binding), now)


def night_window(plan: ImagingPlan, night: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The plan's time-of-night window on this night, absolute: evening times are on the night's date,
    morning ones (before noon) on the next day."""
    if plan.night_from is None or plan.night_until is None:
        return None

    def at(t):
        day = night if t.hour >= 12 else night + timedelta(days=1)
        return datetime.combine(day, t, tzinfo=zone).astimezone(timezone.utc)

    start, end = at(plan.night_from), at(plan.night_until)
    return (start, end) if end > start else (start, start)  # an empty window rather than a wrong one


def plan_imaging(plan: ImagingPlan) -> Imaging:
    return Imaging(dither_every=plan.dither_every, focus_at_start=bool(plan.focus_at_start),
                   focus_every_min=plan.focus_every_min, focus_temp_delta=plan.focus_temp_delta,
                   darks=plan.calib_darks or 0, flats=plan.calib_flats or 0,
                   flat_exposure_s=plan.flat_exposure_s or 1.0)


def _request(progress, node_filters: list[str], window=None) -> tuple[PlanRequest | None, str | None]:
    plan = progress.plan
    rows = [r for r in progress.rows if r.remaining > 0]
    if not rows:
        return None, "complete: every row has its accepted frames"
    if node_filters:
        missing = sorted({r.row.filter_name or "no filter" for r in rows
                          if r.row.filter_name and not any(same_filter(r.row.filter_name, f) for f in node_filters)})
        rows = [r for r in rows if not r.row.filter_name or any(same_filter(r.row.filter_name, f) for f in node_filters)]
        if not rows:
            return None, f"the node has no {', '.join(missing)} filter"
    target = plan.target
    if target.ra_deg is None or target.dec_deg is None:
        return None, "the target has no coordinates"
    return PlanRequest(
        target.name, target.ra_deg, target.dec_deg,
        tuple(ExposureRow(r.row.filter_name, r.row.exposure_s, r.remaining, r.row.binning or 1, r.row.gain,
                          r.row.offset) for r in rows),
        priority=plan.priority,
        constraints=Constraints(min_altitude_deg=plan.min_altitude_deg, max_airmass=plan.max_airmass,
                                min_moon_separation_deg=plan.min_moon_separation_deg,
                                max_moon_illumination=plan.max_moon_illumination, twilight=plan.twilight,
                                window=window),
        done_fraction=progress.done / progress.total if progress.total else 0.0,
        imaging=plan_imaging(plan),
    ), None


def open_requests(session: Session, binding: TelescopeNode, night: date) -> tuple[list[PlanRequest], dict[str, str]]:
    """Planner requests for the night, and why each other plan is left out."""
    return requests_for(session, night, site_zone(binding), [f.name for f in binding.filters])


def requests_for(session: Session, night: date, zone: ZoneInfo,
                 node_filters: list[str]) -> tuple[list[PlanRequest], dict[str, str]]:
    plans = session.scalars(select(ImagingPlan).where(ImagingPlan.active.is_(True))
                            .options(selectinload(ImagingPlan.target), selectinload(ImagingPlan.rows))
                            .order_by(ImagingPlan.priority, ImagingPlan.id))
    requests, skipped = [], {}
    for plan in plans:
        name = plan.target.name
        if (plan.start_date and night < plan.start_date) or (plan.end_date and night > plan.end_date):
            skipped[f"{name} (plan {plan.id})"] = "outside its date window"
            continue
        if any(r.name == name for r in requests):
            # The schedule names targets; a second plan on one target waits for another night.
            skipped[f"{name} (plan {plan.id})"] = "another plan for this target goes first"
            continue
        request, why = _request(plan_progress(session, plan), node_filters, night_window(plan, night, zone))
        if request is None:
            skipped[f"{name} (plan {plan.id})"] = why
        else:
            requests.append(request)
    return requests, skipped


def sky_for(site: SiteRow, night: date) -> NightSky:
    horizon = tuple((float(az), float(alt)) for az, alt in site.horizon or [])
    return NightSky(Site(site.latitude_deg or 0.0, site.longitude_deg or 0.0, site.elevation_m or 0.0, horizon), night)


def plan_site(session: Session, site: SiteRow, night: date, node_filters: list[str] = (),
              conditions: SkyConditions | None = None):
    """(sky, requests, plan, skipped) for a site's night from the active plans."""
    sky = sky_for(site, night)
    requests, skipped = requests_for(session, night, ZoneInfo(site.timezone or "UTC"), list(node_filters))
    plan = plan_night(sky, requests, conditions=conditions) if requests else NightPlan([], {}, sky.step.total_seconds())
    return sky, requests, plan, skipped


@dataclass
class Tonight:
    binding: TelescopeNode
    night: date
    sky: NightSky
    requests: list[PlanRequest]
    plan: NightPlan
    skipped: dict[str, str]
    conditions: SkyConditions | None = None

    def job(self, job_id: str | None = None, replaces: str | None = None) -> ScheduleJob:
        if not self.plan.blocks:
            raise NothingToSend("nothing is planned for the rest of this night" if self.conditions
                                else "nothing is planned for this night")
        job_id = job_id or f"tonight-{self.night.isoformat()}-{secrets.token_hex(4)}"
        job = to_schedule_job(self.plan, self.requests, job_id, self.binding.node_name)
        return job.model_validate({**job.model_dump(), "replaces": replaces}) if replaces else job


def block_times(blocks) -> list[dict]:
    """The plan's blocks as a sent schedule keeps them (what the timeline later compares with)."""
    return [{"name": b.name, "start": b.start.isoformat(), "end": b.end.isoformat()} for b in blocks]


def plan_tonight(session: Session, binding: TelescopeNode, night: date,
                 conditions: SkyConditions | None = None) -> Tonight:
    sky, requests, plan, skipped = plan_site(session, binding.site, night, [f.name for f in binding.filters],
                                             conditions)
    return Tonight(binding, night, sky, requests, plan, skipped, conditions)


def latest_cloud_cover(session: Session, now: datetime, max_age_min: float = CLOUD_VALID_MIN) -> CloudCover | None:
    """The newest all-sky cloud map of any observatory node, if it is recent enough to plan with.

    Observatory nodes are not bound to sites: one installation, one sky (several sites would
    need that binding first)."""
    row = session.scalars(select(CloudMapRecord).where(CloudMapRecord.taken_at >= now - timedelta(minutes=max_age_min))
                          .order_by(CloudMapRecord.taken_at.desc(), CloudMapRecord.id.desc()).limit(1)).first()
    if row is None:
        return None
    taken = row.taken_at if row.taken_at.tzinfo else row.taken_at.replace(tzinfo=timezone.utc)
    return CloudCover.from_map(taken, row.regions or [], f"{row.node_name}/{row.source}")


def replan_conditions(session: Session, now: datetime | None = None) -> SkyConditions:
    """Re-planning during the night: from now, around the clouded parts of the newest cloud map."""
    now = now or utc_now()
    return SkyConditions(start=now, clouds=latest_cloud_cover(session, now))


def last_sent(session: Session, node_name: str, night: date) -> SentSchedule | None:
    return session.scalars(select(SentSchedule).where(SentSchedule.node_name == node_name, SentSchedule.night == night)
                           .order_by(SentSchedule.sent_at.desc()).limit(1)).first()
