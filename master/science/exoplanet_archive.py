"""Transit priors of a known planet from the NASA Exoplanet Archive, fetched when online and cached.

The archive's TAP service answers an ADQL query on ``pscomppars`` (one row per planet, the
archive's composite of the best-constrained parameters) with a JSON array of objects, one key per
column asked. Used: ``pl_orbper`` (days), ``pl_tranmid`` (mid-transit, BJD), ``pl_ratror`` (Rp/R*),
``pl_ratdor`` (a/R*), ``pl_orbincl`` (degrees), ``pl_orbeccen`` and their ``err1`` columns. The answer
is kept in ``catalog_lookups`` (key ``exoplanet:<name>``) for ``catalog.cache_days``; offline, or
with online lookups off, ``ArchiveError`` says so and what to give instead.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from master.catalog.cache import cached_answer, keep_answer
from master.catalog.fetch import get_json
from .run_request import RequestError

__all__ = ["ArchiveError", "PlanetPriors", "archive_query_url", "planet_priors", "priors_from_row"]

COLUMNS = ("pl_name", "hostname", "pl_orbper", "pl_orbpererr1", "pl_tranmid", "pl_tranmiderr1", "pl_ratror",
           "pl_ratrorerr1", "pl_ratdor", "pl_ratdorerr1", "pl_orbincl", "pl_orbinclerr1", "pl_orbeccen")


class ArchiveError(RequestError):
    """The planet's parameters could not be had; the message says what to do instead."""


@dataclass
class PlanetPriors:
    """What a transit fit starts from: fixed period and eccentricity, first guesses of the rest."""

    name: str
    period: float  # days
    t0: float  # a mid-transit time, BJD_TDB
    rp: float | None = None  # Rp/R*
    a: float | None = None  # a/R*
    inc: float | None = None  # degrees
    ecc: float = 0.0
    period_err: float | None = None
    t0_err: float | None = None
    a_err: float | None = None
    inc_err: float | None = None
    host: str | None = None
    source: str = "given"

    def to_dict(self) -> dict:
        return asdict(self)


def archive_query_url(base: str, planet: str) -> str:
    name = planet.replace("'", "''")  # ADQL quotes a quote by doubling it
    query = f"select {','.join(COLUMNS)} from pscomppars where pl_name = '{name}'"
    return f"{base.rstrip('/')}?{urlencode({'query': query, 'format': 'json'})}"


def _number(row: dict, column: str) -> float | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ArchiveError(f"the archive's {column} is not a number ({value!r})") from None
    return value if math.isfinite(value) else None


def priors_from_row(row: dict, source: str) -> PlanetPriors:
    period, t0 = _number(row, "pl_orbper"), _number(row, "pl_tranmid")
    name = str(row.get("pl_name") or "?")
    if period is None or t0 is None or period <= 0:
        raise ArchiveError(f"the archive has no period and mid-transit time for {name}: give them by hand")
    return PlanetPriors(name=name, host=row.get("hostname"), period=period, t0=t0, rp=_number(row, "pl_ratror"),
                        a=_number(row, "pl_ratdor"), inc=_number(row, "pl_orbincl"),
                        ecc=_number(row, "pl_orbeccen") or 0.0, period_err=_number(row, "pl_orbpererr1"),
                        t0_err=_number(row, "pl_tranmiderr1"), a_err=_number(row, "pl_ratdorerr1"),
                        inc_err=_number(row, "pl_orbinclerr1"), source=source)


def planet_priors(session, config, planet: str, now: datetime | None = None) -> PlanetPriors:
    """The archive's parameters of ``planet`` (e.g. "HAT-P-32 b"); ``config`` is ``[catalog]``."""
    now = now or datetime.now(timezone.utc)
    planet = " ".join(planet.split())
    if not planet:
        raise ArchiveError("give the planet's name as the archive spells it (e.g. HAT-P-32 b)")
    key = f"exoplanet:{planet.casefold()}"[:200]
    row = cached_answer(session, key, config.cache_days, now)
    if row is not None:
        return priors_from_row(row, "NASA Exoplanet Archive (cache)")
    if not config.enabled:
        raise ArchiveError("online lookups are off ([catalog] enabled = false): give the period and "
                           "mid-transit time by hand")
    rows = get_json(archive_query_url(config.exoplanet_archive_url, planet), config.timeout_s,
                    "the NASA Exoplanet Archive", "give the period and mid-transit time by hand", ArchiveError)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ArchiveError("the NASA Exoplanet Archive answered with something that is not a table")
    if not rows:
        raise ArchiveError(f"the NASA Exoplanet Archive knows no planet named {planet!r} (names look like "
                           "'HAT-P-32 b')")
    priors = priors_from_row(rows[0], "NASA Exoplanet Archive")
    keep_answer(session, key, rows[0], now)
    return priors
