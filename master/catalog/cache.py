"""The database cache of online lookups: a name asked once is not asked again for a while.

Found names are kept ``cache_days``, names nobody knows only ``miss_cache_hours``
(they may be typos fixed upstream, or objects added later). Failures are never
kept: the next search tries again.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from master.models import CatalogLookup
from .openngc import CatalogEntry


def cache_key(name: str) -> str:
    return " ".join(name.split()).casefold()[:200]


def _aware(when: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def recall(session: Session, name: str, config, now: datetime) -> list[CatalogEntry] | None:
    """The entries kept for ``name`` (possibly []), or None when nothing fresh is kept."""
    row = session.get(CatalogLookup, cache_key(name))
    if row is None:
        return None
    keep = timedelta(days=config.cache_days) if row.entries else timedelta(hours=config.miss_cache_hours)
    if now - _aware(row.fetched_at) > keep:
        return None
    return [CatalogEntry.from_dict(item) for item in row.entries]


def remember(session: Session, name: str, entries: list[CatalogEntry], now: datetime) -> None:
    """Keep the answer for ``name``."""
    _store(session, cache_key(name), [e.to_dict() for e in entries], now)


def cached_answer(session: Session, key: str, max_age_days: float, now: datetime):
    """One service answer kept under ``key`` (a VSP chart, an archive row) younger than ``max_age_days``."""
    row = session.get(CatalogLookup, key)
    if row is not None and row.entries and now - _aware(row.fetched_at) <= timedelta(days=max_age_days):
        return row.entries[0]
    return None


def keep_answer(session: Session, key: str, answer, now: datetime) -> None:
    _store(session, key, [answer], now)


def _store(session: Session, key: str, entries: list, now: datetime) -> None:
    # a concurrent request keeping the same key first is fine
    try:
        session.merge(CatalogLookup(query_key=key, entries=entries, fetched_at=now))
        session.commit()
    except IntegrityError:
        session.rollback()
