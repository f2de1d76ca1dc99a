"""Target search: the offline catalogue first, CDS (through Sesame) for names it does not know.

The online part can only ever add results: when CDS is off, unreachable, slow
or answers nonsense, the offline results stand and ``notice`` says what happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from . import cache, openngc, sesame
from .fetch import FetchError, get_bytes
from .openngc import CatalogEntry

OFFLINE = "OpenNGC (offline)"


@dataclass
class SearchOutcome:
    query: str
    entries: list[CatalogEntry] = field(default_factory=list)
    source: str = OFFLINE  # what answered: OpenNGC (offline), SIMBAD (Sesame), SIMBAD (cache), ...
    cached: bool = False
    online_asked: bool = False  # the online lookup ran (from the network or the cache)
    notice: str | None = None  # why the online lookup did not answer

    def find(self, catalog_id: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.catalog_id == catalog_id), None)

    def to_dict(self) -> dict:
        items = [{**e.to_dict(), "cached": self.cached} for e in self.entries]
        return {"query": self.query, "source": self.source, "notice": self.notice, "items": items}


def _online(session: Session, config, query: str, now: datetime) -> SearchOutcome:
    outcome = SearchOutcome(query, online_asked=True)
    kept = cache.recall(session, query, config, now)
    if kept is not None:
        outcome.entries, outcome.cached = kept, True
    else:
        try:
            body = get_bytes(sesame.lookup_url(config.sesame_url, query, config.resolvers), config.timeout_s)
            outcome.entries = sesame.parse(body)
        except (FetchError, sesame.SesameError) as exc:
            outcome.notice = f"SIMBAD unreachable: {exc}; only the offline catalogue was searched"
            return outcome
        cache.remember(session, query, outcome.entries, now)
    if outcome.entries:
        names = sorted({e.source for e in outcome.entries})
        outcome.source = f"{', '.join(names)} ({'cache' if outcome.cached else 'Sesame'})"
    return outcome


def search(session: Session, config, query: str, limit: int = 20, now: datetime | None = None) -> SearchOutcome:
    """Offline results when there are any; otherwise what CDS knows (or why it could not be asked)."""
    query = " ".join(query.split())
    offline = openngc.search(query, limit)
    if offline or not query:
        return SearchOutcome(query, offline)
    if not config.enabled:
        return SearchOutcome(query, notice="online lookup is switched off ([catalog] enabled = false); "
                                           "only the offline catalogue was searched")
    outcome = _online(session, config, query, now or datetime.now(timezone.utc))
    outcome.entries = outcome.entries[:limit]
    return outcome
