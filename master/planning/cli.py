"""``obsy plan``: tonight's plan for a site, printed, written as a schedule job, or sent to a node."""
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


@click.command("plan")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "night", type=click.DateTime(["%Y-%m-%d"]), help="The night's date (default today).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--job-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the schedule job JSON here.")
@click.option("--send", "node", help="Send the schedule to this telescope node through the master's broker.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Master config (for --send).")
def plan_command(plan_file, night, as_json, job_out, node, config_path) -> None:
    """Plan a night for the requests in PLAN_FILE (JSON: site and requests with rows)."""
    from .planner import Constraints, ExposureRow, PlanRequest, plan_night, to_schedule_job
    from .sky import NightSky, Site

    spec = load_plan_file(plan_file)
    night = (night.date() if isinstance(night, datetime) else None) or date.today()
    site = Site(spec.latitude_deg, spec.longitude_deg, spec.elevation_m, tuple(map(tuple, spec.horizon)))
    requests = [PlanRequest(
        r.name, r.ra_deg, r.dec_deg, tuple(ExposureRow(row.filter, row.exposure_s, row.count) for row in r.rows),
        priority=r.priority, constraints=Constraints(
            min_altitude_deg=r.min_altitude_deg, max_airmass=r.max_airmass,
            min_moon_separation_deg=r.min_moon_separation_deg, max_moon_illumination=r.max_moon_illumination,
            twilight=r.twilight)) for r in spec.requests]
    plan = plan_night(NightSky(site, night), requests)
    rows = [{"target": b.name, "start": b.start.isoformat(timespec="minutes"),
             "end": b.end.isoformat(timespec="minutes"), "mean_airmass": round(b.mean_airmass, 2)}
            for b in plan.blocks]
    if as_json:
        click.echo(json.dumps({"night": night.isoformat(), "blocks": rows, "unplaced": plan.unplaced}, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['start'][11:16]}–{row['end'][11:16]} UTC  {row['target']:<24} airmass {row['mean_airmass']}")
        for name, why in plan.unplaced.items():
            click.echo(f"not placed: {name}: {why}")
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
