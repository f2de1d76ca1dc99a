"""Reports: a target's integration, rejections and quality trends; a night's captures, safety and weather."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template

from master.models import Target
from master.reports import aggregate, csv_export, queries
from master.safety_timeline import stretches
from .context import db, get_or_404
from .observatory import STALE_S, observatory_nodes, safety_records
from .report_charts import integration_chart, trend_chart

bp = Blueprint("reports", __name__)


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


def _night(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(404)


@bp.get("/reports/targets/<int:target_id>")
def target(target_id: int):
    row = get_or_404(Target, target_id)
    report = aggregate.target_report(queries.target_frames(db(), row))
    trends = [trend_chart(name, label, report.trends[name]) for name, label in aggregate.TREND_FIELDS]
    return render_template("reports/target.html", target=row, report=report, bars=integration_chart(report),
                           trends=[chart for chart in trends if chart is not None])


@bp.get("/reports/targets/<int:target_id>.csv")
def target_csv(target_id: int):
    row = get_or_404(Target, target_id)
    return _csv(csv_export.frames_csv(queries.target_frames(db(), row)), f"obsy-target-{target_id}.csv")


@bp.get("/reports/nights")
def nights():
    return render_template("reports/nights.html", nights=queries.nights(db()))


def _night_context(night: date) -> dict:
    frames = queries.night_frames(db(), night)
    start, end = queries.night_window(night, frames)
    records = {node: safety_records(node, start, end) for node in observatory_nodes()}
    timelines = {node: stretches(rows, start, end, STALE_S) for node, rows in records.items() if rows}
    inside = [r for rows in records.values() for r in rows if start <= aggregate.aware(r.at) <= end]
    return {"night": night, "frames": frames, "start": start, "end": end, "timelines": timelines,
            "groups": aggregate.night_groups(frames), "weather": aggregate.weather_notes(inside)}


@bp.get("/reports/nights/<night>")
def night(night: str):
    context = _night_context(_night(night))
    return render_template("reports/night.html", window_s=(context["end"] - context["start"]).total_seconds(),
                           **context)


@bp.get("/reports/nights/<night>.csv")
def night_csv(night: str):
    day = _night(night)
    return _csv(csv_export.frames_csv(queries.night_frames(db(), day)), f"obsy-night-{day}.csv")


@bp.get("/reports/nights/<night>/safety.csv")
def night_safety_csv(night: str):
    context = _night_context(_night(night))
    return _csv(csv_export.safety_csv(context["timelines"]), f"obsy-night-{context['night']}-safety.csv")
