"""Targets: added from the catalogue or by coordinates, exported as CSV (imports: master.target_import)."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from .catalog.coords import CoordinateError, format_dec, format_ra, parse_dec, parse_ra
from .catalog.openngc import CatalogEntry
from .models import Target

CSV_FIELDS = ["name", "ra", "dec", "object_type", "magnitude", "size_arcmin", "constellation", "tags", "public",
              "notes", "catalog_id", "also_known_as", "position_angle_deg"]  # what master.target_files.parse_csv reads back


class TargetError(ValueError):
    pass


def find_by_name(session: Session, name: str) -> Target | None:
    return session.scalar(select(Target).where(Target.name == name))


def _new(session: Session, name: str, **fields) -> Target:
    name = " ".join(name.split())
    if not name:
        raise TargetError("a target needs a name")
    if find_by_name(session, name) is not None:
        raise TargetError(f"a target named {name!r} already exists")
    target = Target(name=name[:200], **fields)
    session.add(target)
    session.flush()
    return target


def add_from_catalog(session: Session, entry: CatalogEntry) -> Target:
    return _new(session, entry.name, ra_deg=entry.ra_deg, dec_deg=entry.dec_deg, object_type=entry.object_type,
                magnitude=entry.magnitude, size_major_arcmin=entry.size_major_arcmin,
                size_minor_arcmin=entry.size_minor_arcmin, position_angle_deg=entry.position_angle_deg,
                constellation=entry.constellation,
                catalog_id=entry.catalog_id, common_names=entry.common_names or None)


def add_by_coordinates(session: Session, name: str, ra: str, dec: str, **fields) -> Target:
    try:
        ra_deg, dec_deg = parse_ra(ra), parse_dec(dec)
    except CoordinateError as exc:
        raise TargetError(str(exc)) from None
    return _new(session, name, ra_deg=ra_deg, dec_deg=dec_deg, **fields)


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS)
    writer.writeheader()
    for t in session.scalars(select(Target).order_by(Target.name)):
        size = "" if t.size_major_arcmin is None else f"{t.size_major_arcmin:g}" + (
            f"x{t.size_minor_arcmin:g}" if t.size_minor_arcmin else "")
        writer.writerow({
            "name": t.name, "ra": format_ra(t.ra_deg, 2) if t.ra_deg is not None else "",
            "dec": format_dec(t.dec_deg, 1) if t.dec_deg is not None else "", "object_type": t.object_type or "",
            "magnitude": "" if t.magnitude is None else f"{t.magnitude:g}", "size_arcmin": size,
            "constellation": t.constellation or "", "tags": ", ".join(t.tags or []),
            "public": "yes" if t.public else "no", "notes": t.notes or "", "catalog_id": t.catalog_id or "",
            "also_known_as": "; ".join(t.common_names or []),
            "position_angle_deg": "" if t.position_angle_deg is None else f"{t.position_angle_deg:g}"})
    return out.getvalue()
