"""The observatory nodes' weather history as the master recorded it (``WeatherRecord``)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from .models import WeatherRecord

MAX_POINTS = 288  # per node: one every 5 minutes over a day; longer spans are thinned


def weather_history(session, start: datetime, end: datetime | None = None,
                    max_points: int = MAX_POINTS) -> dict[str, list[dict]]:
    """Per node, ``{"at", "values"}`` in time order between ``start`` and ``end`` (now), thinned
    evenly to at most ``max_points`` (the newest reading is always kept)."""
    end = end or datetime.now(timezone.utc)
    rows = session.execute(select(WeatherRecord.node_name, WeatherRecord.measured_at, WeatherRecord.values)
                           .where(WeatherRecord.measured_at >= start, WeatherRecord.measured_at <= end)
                           .order_by(WeatherRecord.node_name, WeatherRecord.measured_at, WeatherRecord.id)).all()
    by_node: dict[str, list[dict]] = {}
    for node, at, values in rows:
        if at.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
            at = at.replace(tzinfo=timezone.utc)
        by_node.setdefault(node, []).append({"at": at.isoformat(), "values": values})
    return {node: _thin(points, max_points) for node, points in by_node.items()}


def weather_summary(history: dict[str, list[dict]]) -> list[dict]:
    """Per node and numeric quantity: lowest, highest and last value and how many readings (yes/no
    quantities: how many readings said yes)."""
    rows = []
    for node, points in sorted(history.items()):
        names = sorted({name for point in points for name in point["values"]})
        for name in names:
            values = [p["values"][name] for p in points if name in p["values"]]
            if all(isinstance(v, bool) for v in values):
                rows.append({"node": node, "quantity": name, "readings": len(values), "yes": sum(values)})
                continue
            numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numbers:
                rows.append({"node": node, "quantity": name, "readings": len(numbers), "low": min(numbers),
                             "high": max(numbers), "last": numbers[-1]})
    return rows


def _thin(points: list, max_points: int) -> list:
    if len(points) <= max_points:
        return points
    step = len(points) / max_points
    picked = [points[int(i * step)] for i in range(max_points - 1)]
    return picked + [points[-1]]


def hours_ago(hours: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours)
