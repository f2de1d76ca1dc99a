"""Comparison stars from an AAVSO VSP chart (the chart API's JSON), fetched when online and cached.

The chart for ``star``, ``fov`` (arcmin) and ``maglimit`` is kept in ``catalog_lookups`` (key
``vsp:...``) for ``catalog.cache_days``; offline, or with online lookups off, ``VspError`` says so
and what to do instead. The answer is read as the VSP API documents it: ``chartid``, and
``photometry``, a list of stars with ``auid``, ``label``, sexagesimal ``ra`` (hours) / ``dec``, and
``bands`` (``band``, ``mag``, ``error``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from master.catalog.fetch import get_json
from master.catalog.cache import cached_answer, keep_answer
from .comparison_file import parse_angle
from .run_request import RequestError

__all__ = ["VspError", "chart_url", "fetch_chart", "chart_comparisons", "vsp_comparisons"]


class VspError(RequestError):
    """The chart could not be had (offline, refused, or not a chart); the message says what to do."""


def chart_url(base: str, star: str, fov: float, maglimit: float) -> str:
    query = urlencode({"format": "json", "star": star, "fov": f"{fov:g}", "maglimit": f"{maglimit:g}"})
    return f"{base.rstrip('/')}/?{query}"


def _cache_key(star: str, fov: float, maglimit: float) -> str:
    return f"vsp:{' '.join(star.split()).casefold()}:{fov:g}:{maglimit:g}"[:200]


def fetch_chart(session, config, star: str, fov: float = 30.0, maglimit: float = 16.0,
                now: datetime | None = None) -> tuple[dict, bool]:
    """(chart, from_cache) for ``star``; ``config`` is the master's ``[catalog]`` section."""
    now = now or datetime.now(timezone.utc)
    star = " ".join(star.split())
    if not star:
        raise VspError("give the name of the variable star whose AAVSO chart to use")
    key = _cache_key(star, fov, maglimit)
    cached = cached_answer(session, key, config.cache_days, now)
    if cached is not None:
        return cached, True
    if not config.enabled:
        raise VspError("online lookups are off ([catalog] enabled = false): give the comparison stars by hand "
                       "or as a catalogue file")
    chart = get_json(chart_url(config.vsp_url, star, fov, maglimit), config.timeout_s, "AAVSO VSP",
                     "give the comparison stars by hand or as a catalogue file (a chart saved from VSP as JSON "
                     "works)", VspError)
    if not isinstance(chart, dict) or "photometry" not in chart:
        reason = chart.get("errors") if isinstance(chart, dict) else None
        raise VspError(f"AAVSO VSP has no chart for {star!r}" + (f": {reason}" if reason else ""))
    keep_answer(session, key, chart, now)
    return chart, False


def chart_comparisons(chart: dict, band: str = "V") -> list[dict]:
    """The chart's stars that have a magnitude in ``band``, as run comparisons."""
    photometry = chart.get("photometry")
    if not isinstance(photometry, list):
        raise VspError("the VSP chart has no photometry table")
    source = f"AAVSO VSP chart {chart.get('chartid') or '?'}"
    stars = []
    for item in photometry:
        try:
            mags = {b["band"].strip().lower(): b for b in item.get("bands") or [] if b.get("mag") is not None}
            chosen = mags.get(band.strip().lower())
            if chosen is None:
                continue
            ra, dec = parse_angle(item["ra"], hours=True), parse_angle(item["dec"], hours=False)
            error = chosen.get("error")
            stars.append({"name": str(item.get("auid") or item.get("label") or f"C{len(stars) + 1}")[:40],
                          "label": str(item.get("label") or "")[:20], "ra": ra, "dec": dec,
                          "mag": float(chosen["mag"]), "mag_err": float(error) if error is not None else None,
                          "source": source, "chart": str(chart.get("chartid") or "na")[:20]})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise VspError(f"the VSP chart has a star that cannot be read ({exc!r})") from None
    if not stars:
        raise VspError(f"the VSP chart has no comparison star with a {band} magnitude")
    return stars


def vsp_comparisons(session, config, star: str, band: str = "V", fov: float = 30.0,
                    maglimit: float = 16.0) -> tuple[list[dict], str]:
    """(comparisons, where they came from) for a run."""
    chart, cached = fetch_chart(session, config, star, fov, maglimit)
    stars = chart_comparisons(chart, band)
    return stars, f"AAVSO VSP chart {chart.get('chartid') or '?'}" + (" (cache)" if cached else "")
