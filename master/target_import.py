"""Apply a parsed target list to the database: complete entries from the offline catalogue, find
duplicates, and add (or update) all of it, or nothing while any entry is bad unless told to skip those.
"""
from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from .catalog import openngc
from .models import Target
from .target_files import ParsedTarget

# A catalogue entry that matches a name but lies farther than this from the file's position is
# another object (or a typo): the file's position is kept and the catalogue is not used.
CATALOGUE_AGREES_DEG = 0.5
COLUMNS = ("ra_deg", "dec_deg", "object_type", "magnitude", "size_major_arcmin", "size_minor_arcmin", "position_angle_deg",
           "constellation", "catalog_id", "common_names", "tags", "public", "notes")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # duplicates left alone, with why
    errors: list[str] = field(default_factory=list)  # entries that cannot be targets
    notes: list[str] = field(default_factory=list)
    applied: bool = False  # False: nothing was written
    dry_run: bool = False

    def summary(self) -> str:
        if self.dry_run:
            return (f"check only, nothing written: {len(self.added)} would be added, {len(self.updated)} updated, "
                    f"{len(self.skipped)} skipped as already there, {len(self.errors)} bad")
        if not self.applied:
            return (f"nothing imported: {len(self.errors)} of the entries cannot be imported; fix them, or choose "
                    "to import the others and skip these")
        parts = [f"{len(self.added)} added"]
        if self.updated:
            parts.append(f"{len(self.updated)} updated")
        if self.skipped:
            parts.append(f"{len(self.skipped)} already there, skipped")
        if self.errors:
            parts.append(f"{len(self.errors)} bad, skipped")
        return ", ".join(parts)


def fold(name: str) -> str:
    """Names compared as people mean them: 'M31', 'm 31' and 'M  31' are one."""
    return "".join(name.lower().split())


def _separation_deg(ra1, dec1, ra2, dec2) -> float:
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _designation_key(name: str) -> str:
    """'NGC 224', 'ngc0224' and 'NGC224' are one key; so are 'M 31' and 'M031'."""
    return re.sub(r"^([a-z]+)0+(?=\d)", r"\1", fold(name))


@lru_cache(maxsize=1)
def _catalogue_index() -> dict[str, str]:
    """Every OpenNGC designation, Messier number and common name → its OpenNGC name, read once.

    An import asks for thousands of names: one dictionary beats a database search per name.
    """
    from pyongc import ongc

    index: dict[str, str] = {}
    with sqlite3.connect(f"file:{ongc.DBPATH}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT name, messier, commonnames FROM objects ORDER BY type = 'Dup', name")
        for name, messier, commons in rows:
            keys = [name] + ([f"M{int(messier)}"] if messier and messier.isdigit() else [])
            keys += [n for n in (commons or "").split(",") if n.strip()]
            for key in keys:
                index.setdefault(_designation_key(key), name)
    return index


def _catalogue(name: str) -> openngc.CatalogEntry | None:
    """The OpenNGC entry the name designates exactly (not merely a name containing it)."""
    found = _catalogue_index().get(_designation_key(name))
    return openngc.get(found) if found else None


def _constellations(places: list[tuple[float, float]]) -> list[str]:
    import astropy.units as u
    from astropy.coordinates import SkyCoord, get_constellation

    ra, dec = zip(*places)
    return [str(c) for c in get_constellation(SkyCoord(ra * u.deg, dec * u.deg), short_name=True)]


def complete(parsed: ParsedTarget) -> None:
    """Fill what the file leaves out from the catalogue (J2000 place, type, magnitude, size, names)."""
    fields = parsed.fields
    entry = _catalogue(parsed.name)
    if entry is not None and entry.ra_deg is not None:
        if "ra_deg" in fields and _separation_deg(fields["ra_deg"], fields["dec_deg"], entry.ra_deg,
                                                  entry.dec_deg) > CATALOGUE_AGREES_DEG:
            parsed.notes.append(f"OpenNGC's {entry.name} is elsewhere on the sky: the file's position is kept")
        else:
            # The catalogue's J2000 place beats a list's (KStars saves places of date, rounded).
            fields["ra_deg"], fields["dec_deg"] = entry.ra_deg, entry.dec_deg
            for column, value in (("object_type", entry.object_type), ("magnitude", entry.magnitude),
                                  ("size_major_arcmin", entry.size_major_arcmin),
                                  ("size_minor_arcmin", entry.size_minor_arcmin),
                                  ("position_angle_deg", entry.position_angle_deg), ("catalog_id", entry.catalog_id),
                                  ("common_names", entry.common_names or None)):
                if fields.get(column) is None and value is not None:
                    fields[column] = value
            fields["constellation"] = entry.constellation or fields.get("constellation")
    if "ra_deg" not in fields:
        parsed.error = "no coordinates, and the offline catalogue (OpenNGC) does not know the name"


def _fill_constellations(parsed: list[ParsedTarget]) -> None:
    """Full names ("Andromeda", as KStars writes them) or none become the IAU abbreviation OpenNGC uses."""
    wanting = [p for p in parsed if p.error is None and len(p.fields.get("constellation") or "") not in (2, 3)]
    if wanting:
        names = _constellations([(p.fields["ra_deg"], p.fields["dec_deg"]) for p in wanting])
        for entry, name in zip(wanting, names):
            entry.fields["constellation"] = name


def _existing(session: Session) -> tuple[dict[str, Target], dict[str, Target]]:
    by_name, by_catalog = {}, {}
    for target in session.scalars(select(Target)):
        by_name[fold(target.name)] = target
        if target.catalog_id:
            by_catalog[target.catalog_id] = target
    return by_name, by_catalog


def _update(target: Target, fields: dict) -> None:
    for column, value in fields.items():
        if column == "tags":
            value = sorted(set(target.tags or []) | set(value or [])) or None
        if value is not None:
            setattr(target, column, value)


def import_targets(session: Session, parsed: list[ParsedTarget], *, update: bool = False, skip_bad: bool = False,
                   tags: list[str] | None = None, public: bool | None = None, dry_run: bool = False) -> ImportReport:
    """Add the parsed targets. ``update``: a target already there takes the file's values (tags are merged);
    otherwise it is left alone. With a bad entry and no ``skip_bad`` nothing is written. The caller commits."""
    report = ImportReport(dry_run=dry_run)
    for entry in parsed:
        if entry.error is None:
            complete(entry)
        if tags:
            entry.fields["tags"] = sorted(set(entry.fields.get("tags") or []) | set(tags))
        if public is not None and "public" not in entry.fields:
            entry.fields["public"] = public
        report.notes.extend(f"{entry.where}: {note}" for note in entry.notes)
        if entry.error:
            report.errors.append(f"{entry.where}: {entry.error}")
    _fill_constellations(parsed)
    if report.errors and not skip_bad and not dry_run:
        return report
    by_name, by_catalog = _existing(session)
    seen: dict[str, str] = {}
    for entry in (e for e in parsed if e.error is None):
        name = entry.name[:200]
        keys = [fold(name)] + ([entry.fields["catalog_id"]] if entry.fields.get("catalog_id") else [])
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None:
            report.skipped.append(f"{entry.where}: the same object as {first} in this file")
            continue
        seen.update({k: entry.where for k in keys})
        target = by_name.get(fold(name)) or (by_catalog.get(entry.fields["catalog_id"])
                                             if entry.fields.get("catalog_id") else None)
        if target is not None and not update:
            report.skipped.append(f"{entry.where}: already a target ({target.name}); left as it is")
            continue
        if target is not None:
            if not dry_run:
                _update(target, entry.fields)
            report.updated.append(target.name)
            continue
        if not dry_run:
            session.add(Target(name=name, **{c: entry.fields.get(c) for c in COLUMNS if c in entry.fields}))
        report.added.append(name)
    if not dry_run:
        session.flush()
    report.applied = not dry_run
    return report
