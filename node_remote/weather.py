"""The weather chart of the remote site: the observatory nodes' readings over the last hours.

Points arrive on the retained ``weather`` topic (one per report, every ``publish_every_s`` of the
observatory node) and, at start and on every gallery refresh, from the master's
``/api/v1/public/weather`` (so a site started mid-night shows the night so far). The chart is a
server-drawn SVG, one strip per numeric quantity; yes/no values (rain) are shown as text only.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

KEEP_HOURS = 24.0
MAX_POINTS = 2000            # per node
MAX_STRIPS = 6
STRIP_W, STRIP_H, PAD_L, PAD_R, PAD_T = 640, 70, 120, 60, 16


def _parse(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


class WeatherHistory:
    def __init__(self, keep_hours: float = KEEP_HOURS):
        self.keep = timedelta(hours=keep_hours)
        self._lock = threading.Lock()
        self._points: dict[str, dict[datetime, dict]] = {}  # node -> time -> values

    def add(self, payload: dict) -> None:
        """One live ``weather`` payload (node, at, values)."""
        at, node = _parse(payload.get("at")), payload.get("node") or "observatory"
        if at is not None and isinstance(payload.get("values"), dict):
            self._put(str(node), at, payload["values"])

    def seed(self, nodes: dict) -> int:
        """The master's history: ``{node: [{"at", "values"}, ...]}``; returns the points added."""
        added = 0
        for node, points in (nodes or {}).items():
            for point in points if isinstance(points, list) else []:
                at = _parse(point.get("at")) if isinstance(point, dict) else None
                if at is not None and isinstance(point.get("values"), dict):
                    added += self._put(str(node), at, point["values"])
        return added

    def _put(self, node: str, at: datetime, values: dict) -> int:
        with self._lock:
            series = self._points.setdefault(node, {})
            new = at not in series
            series[at] = dict(values)
            cutoff = max(series) - self.keep
            for old in [t for t in series if t < cutoff]:
                del series[old]
            while len(series) > MAX_POINTS:
                del series[min(series)]
            return int(new)

    def series(self) -> dict[str, list[tuple[datetime, dict]]]:
        with self._lock:
            return {node: sorted(points.items()) for node, points in self._points.items()}

    def quantities(self) -> list[tuple[str, str]]:
        """(node, quantity) of every numeric quantity, in a stable order."""
        found = []
        for node, points in sorted(self.series().items()):
            names = sorted({k for _, values in points for k, v in values.items() if _number(v) is not None})
            found += [(node, name) for name in names]
        return found

    def svg(self, now: datetime | None = None) -> str:
        """The chart: one strip per numeric quantity (at most six), time across the last hours."""
        now = now or datetime.now(timezone.utc)
        start = now - self.keep
        strips = self.quantities()[:MAX_STRIPS]
        series = self.series()
        height = PAD_T + max(1, len(strips)) * (STRIP_H + 14) + 20
        width = PAD_L + STRIP_W + PAD_R
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
               f'height="{height}" role="img" aria-label="weather over the last {self.keep.total_seconds() / 3600:g} hours">',
               '<style>text{font:11px sans-serif;fill:#ccc}.axis{stroke:#666;fill:none}'
               '.line{stroke:#6cf;fill:none;stroke-width:1.5}</style>']
        if not strips:
            out.append(f'<text x="{PAD_L}" y="{PAD_T + 20}" class="empty">no weather readings yet</text>')
        span = self.keep.total_seconds()
        for i, (node, name) in enumerate(strips):
            top = PAD_T + i * (STRIP_H + 14)
            points = [(t, _number(v.get(name))) for t, v in series.get(node, []) if t >= start]
            points = [(t, v) for t, v in points if v is not None]
            label = escape(name if len(series) == 1 else f"{node} {name}")
            out.append(f'<g class="strip" data-quantity="{escape(name)}" data-node="{escape(node)}">')
            out.append(f'<text x="{PAD_L - 8}" y="{top + STRIP_H / 2 + 4}" text-anchor="end">{label}</text>')
            out.append(f'<rect class="axis" x="{PAD_L}" y="{top}" width="{STRIP_W}" height="{STRIP_H}"/>')
            if points:
                low, high = min(v for _, v in points), max(v for _, v in points)
                if high - low < 1e-9:
                    low, high = low - 1, high + 1
                coords = " ".join(
                    f"{PAD_L + STRIP_W * (t - start).total_seconds() / span:.1f},"
                    f"{top + STRIP_H * (1 - (v - low) / (high - low)):.1f}" for t, v in points)
                out.append(f'<polyline class="line" points="{coords}"/>')
                out.append(f'<text x="{PAD_L + STRIP_W + 6}" y="{top + 10}">{high:.4g}</text>')
                out.append(f'<text x="{PAD_L + STRIP_W + 6}" y="{top + STRIP_H}">{low:.4g}</text>')
            out.append("</g>")
        bottom = height - 6
        out.append(f'<text x="{PAD_L}" y="{bottom}">{start:%H:%M} UTC</text>')
        out.append(f'<text x="{PAD_L + STRIP_W}" y="{bottom}" text-anchor="end">{now:%H:%M} UTC</text>')
        out.append("</svg>")
        return "".join(out)
