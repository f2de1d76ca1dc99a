"""``obsy plan``: a night's plan, printed, written as a schedule job, or sent to a node.

``obsy plan PLAN.json`` (or ``obsy plan file PLAN.json``) plans the requests of a file;
``obsy plan night --site S`` plans the database's active imaging plans, without the portal.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.cli import load_role_config


class RowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filter: str | None = None
    exposure_s: float = Field(gt=0)
    count: int = Field(ge=1)
    binning: int = Field(default=1, ge=1, le=8)
    gain: float | None = None
    offset: float | None = None


class RequestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    ra_deg: float = Field(ge=0, lt=360)
    dec_deg: float = Field(ge=-90, le=90)
    rows: list[RowSpec] = Field(min_length=1)
    priority: int = Field(default=5, ge=1, le=10)
    min_altitude_deg: float = 30.0
    max_airmass: float | None = None
    min_moon_separation_deg: float = 0.0
    max_moon_illumination: float | None = Field(default=None, ge=0, le=1)
    twilight: str = Field(default="astronomical", pattern="^(civil|nautical|astronomical)$")


class PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    elevation_m: float = 0.0
    horizon: list[tuple[float, float]] = Field(default_factory=list)
    requests: list[RequestSpec] = Field(min_length=1)


def load_plan_file(path: Path) -> PlanFile:
    try:
        return PlanFile.model_validate_json(path.read_text())
    except (OSError, ValidationError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None


class _PlanGroup(click.Group):
    """``obsy plan PLAN.json`` keeps working: anything that is not a subcommand goes to ``file``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


@click.group("plan", cls=_PlanGroup)
def plan_command() -> None:
    """Plan a night: from a JSON file of requests, or from the database's active plans."""


def _rows(plan, zone=None) -> list[dict]:
    def when(t):
        return (t.astimezone(zone) if zone else t).isoformat(timespec="minutes")

    return [{"target": b.name, "start": when(b.start), "end": when(b.end), "mean_airmass": round(b.mean_airmass, 2),
             "frames": sum(n for _i, n in b.rows)} for b in plan.blocks]


def _echo(rows: list[dict], unplaced: dict[str, str], label: str) -> None:
    for row in rows:
        click.echo(f"{row['start'][11:16]}–{row['end'][11:16]} {label}  {row['target']:<24} "
                   f"airmass {row['mean_airmass']}  {row['frames']} frames")
    for name, why in unplaced.items():
        click.echo(f"not placed: {name}: {why}")


@plan_command.command("file")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "night", type=click.DateTime(["%Y-%m-%d"]), help="The night's date (default today).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--job-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the schedule job JSON here.")
@click.option("--send", "node", help="Send the schedule to this telescope node through the master's broker.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Master config (for --send).")
def plan_file_command(plan_file, night, as_json, job_out, node, config_path) -> None:
    """Plan a night for the requests in PLAN_FILE (JSON: site and requests with rows)."""
    from .planner import Constraints, ExposureRow, PlanRequest, plan_night, to_schedule_job
    from .sky import NightSky, Site

    spec = load_plan_file(plan_file)
    night = (night.date() if isinstance(night, datetime) else None) or date.today()
    site = Site(spec.latitude_deg, spec.longitude_deg, spec.elevation_m, tuple(map(tuple, spec.horizon)))
    requests = [PlanRequest(
        r.name, r.ra_deg, r.dec_deg, tuple(ExposureRow(row.filter, row.exposure_s, row.count, row.binning, row.gain, row.offset)
              for row in r.rows),
        priority=r.priority, constraints=Constraints(
            min_altitude_deg=r.min_altitude_deg, max_airmass=r.max_airmass,
            min_moon_separation_deg=r.min_moon_separation_deg, max_moon_illumination=r.max_moon_illumination,
            twilight=r.twilight)) for r in spec.requests]
    plan = plan_night(NightSky(site, night), requests)
    rows = _rows(plan)
    if as_json:
        click.echo(json.dumps({"night": night.isoformat(), "blocks": rows, "unplaced": plan.unplaced}, indent=2))
    else:
        _echo(rows, plan.unplaced, "UTC")
    if job_out or node:
        job = to_schedule_job(plan, requests, f"plan-{night.isoformat()}", node or "scope1")
        if job_out:
            job_out.write_text(job.to_json())
        if node:
            from common.jobs import make_broker, send_schedule

            broker = make_broker(load_role_config("master", config_path).broker)
            send_schedule(broker, job)
            broker.close()
            click.echo(f"schedule {job.job_id} sent to {node}")


@plan_command.command("night")
@click.option("--site", "site_name", required=True, help="The site, by name.")
@click.option("--date", "night", type=click.DateTime(["%Y-%m-%d"]), help="The night's date (default: tonight at the site).")
@click.option("--node", "node_name", help="Plan only the filters this telescope node has.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Master config (the database).")
def plan_night_command(site_name, night, node_name, as_json, config_path) -> None:
    """Plan a night at SITE from the active imaging plans in the database (what is still to take)."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from master.models import Site, TelescopeNode
    from master.planning.schedule_job import calibration_rows
    from master.services import MasterServices
    from master.tonight import night_of, plan_site

    services = MasterServices(load_role_config("master", config_path), bus=None)
    try:
        with services.sessions() as session:
            site = session.scalar(select(Site).where(Site.name == site_name))
            if site is None:
                known = ", ".join(session.scalars(select(Site.name).order_by(Site.name))) or "none yet"
                raise click.ClickException(f"no site named {site_name!r} (sites: {known})")
            filters: list[str] = []
            if node_name:
                node = session.scalar(select(TelescopeNode).where(TelescopeNode.node_name == node_name))
                if node is None:
                    raise click.ClickException(f"no telescope node named {node_name!r}")
                filters = [f.name for f in node.filters]
            zone = ZoneInfo(site.timezone or "UTC")
            night = night.date() if isinstance(night, datetime) else night_of(zone)
            sky, requests, plan, skipped = plan_site(session, site, night, filters)
            if not requests and not skipped:
                raise click.ClickException("no active imaging plans: add one in the portal (Plans) first")
    finally:
        services.close()
    rows, bounds = _rows(plan, zone), sky.night_bounds("astronomical")
    calibration = calibration_rows(plan, requests)
    if as_json:
        click.echo(json.dumps({
            "night": night.isoformat(), "site": site_name, "timezone": str(zone),
            "astronomical_night": [t.astimezone(zone).isoformat(timespec="minutes") for t in bounds] if bounds else None,
            "blocks": rows, "unplaced": plan.unplaced, "skipped": skipped, "calibration": calibration}, indent=2))
        return
    click.echo(f"{site_name}, night of {night.isoformat()} ({zone})")
    if bounds:
        click.echo(f"astronomical night {bounds[0].astimezone(zone):%H:%M}–{bounds[1].astimezone(zone):%H:%M}")
    _echo(rows, plan.unplaced, "")
    for name, why in skipped.items():
        click.echo(f"left out: {name}: {why}")
    for row in calibration:
        click.echo(f"after the night: {row['count']} × {row['frame_type']} {row['exposure_s']:g} s"
                   f"{' ' + row['filter_name'] if row['filter_name'] else ''} bin {row['binning']}")
    if not rows:
        click.echo("nothing can be planned for this night")

