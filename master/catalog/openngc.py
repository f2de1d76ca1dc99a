"""Offline target search in OpenNGC through pyongc.

Resolves catalogue designations (``M31``, ``M 31``, ``NGC 7000``, ``IC434``)
with pyongc itself, and common names (``Orion Nebula``, ``andromeda``) by a
substring search of the common-name column of the database pyongc ships.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CatalogEntry:
    name: str  # the designation people use first: M 31 rather than NGC0224
    catalog_id: str  # OpenNGC's own name
    object_type: str
    ra_deg: float | None
    dec_deg: float | None
    magnitude: float | None
    size_major_arcmin: float | None
    size_minor_arcmin: float | None
    constellation: str | None
    common_names: list[str] = field(default_factory=list)
    other_ids: list[str] = field(default_factory=list)
    source: str = "OpenNGC"  # where the entry came from: OpenNGC, SIMBAD, NED, VizieR
    position_angle_deg: float | None = None  # of the major axis, north through east

    @classmethod
    def from_dict(cls, data: dict) -> "CatalogEntry":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)


def _display_name(catalog_id: str, messier: str | None) -> str:
    if messier:
        return f"M {int(messier[1:]) if messier[1:].isdigit() else messier[1:]}"
    for prefix in ("NGC", "IC"):
        if catalog_id.startswith(prefix) and catalog_id[len(prefix):].isdigit():
            return f"{prefix} {int(catalog_id[len(prefix):])}"
    return catalog_id


def _entry(dso) -> CatalogEntry:
    ra = dec = None
    coords = dso.coords
    if coords is not None:
        (h, m, s), (d, am, asec) = coords[0], coords[1]
        sign = -1.0 if dso.dec.strip().startswith("-") else 1.0
        ra = float(15.0 * (h + m / 60 + s / 3600))
        dec = float(sign * (abs(d) + am / 60 + asec / 3600))
    mags = [m for m in dso.magnitudes if m is not None]
    messier, _ngc, _ic, commons, others = dso.identifiers
    size = dso.dimensions
    return CatalogEntry(
        name=_display_name(dso.name, messier), catalog_id=dso.name, object_type=dso.type,
        ra_deg=ra, dec_deg=dec, magnitude=min(mags) if mags else None,
        size_major_arcmin=size[0], size_minor_arcmin=size[1], position_angle_deg=size[2],
        constellation=dso.constellation,
        common_names=list(commons or []), other_ids=list(others or []))


def _by_designation(query: str) -> CatalogEntry | None:
    from pyongc import ongc

    try:
        dso = ongc.get(query.replace(" ", ""))
    except Exception:  # pyongc raises several kinds for identifiers it does not know
        return None
    return _entry(dso) if dso is not None else None


def get(designation: str) -> CatalogEntry | None:
    """The entry of one OpenNGC designation (NGC0224, IC0434, M31), or None."""
    return _by_designation(designation)


def _by_common_name(query: str, limit: int) -> list[CatalogEntry]:
    from pyongc import ongc

    uri = f"file:{ongc.DBPATH}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        rows = connection.execute(
            "SELECT name FROM objects WHERE commonnames LIKE ? ORDER BY name LIMIT ?",
            (f"%{query}%", limit)).fetchall()
    found = []
    for (name,) in rows:
        entry = _by_designation(name)
        if entry is not None:
            found.append(entry)
    return found


def search(query: str, limit: int = 20) -> list[CatalogEntry]:
    """Designation first (exact), then common names containing the query."""
    query = " ".join(query.split())
    if not query:
        return []
    results: list[CatalogEntry] = []
    exact = _by_designation(query)
    if exact is not None:
        results.append(exact)
    if len(query) >= 3:
        for entry in _by_common_name(query, limit):
            if all(entry.catalog_id != r.catalog_id for r in results):
                results.append(entry)
    return results[:limit]
