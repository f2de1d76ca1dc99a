"""CDS Sesame, the name resolver in front of SIMBAD, NED and VizieR: its URL and its XML answer.

Sesame's XML holds one ``Target`` per name asked and, inside it, one ``Resolver``
per database that answered, with J2000 degrees (``jradeg``/``jdedeg``), the
main identifier (``oname``), the object type (``otype``), magnitudes
(``mag band="V"``) and, with the ``I`` option, every identifier (``alias``).
A name nobody knows comes back as a ``Target`` with an ``INFO`` and no position.
"""
from __future__ import annotations

import re
from urllib.parse import quote
from xml.etree.ElementTree import Element, ParseError

from astropy import units as u
from astropy.coordinates import SkyCoord, get_constellation
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .openngc import CatalogEntry

RESOLVER_NAMES = {"S": "SIMBAD", "N": "NED", "V": "VizieR"}
MAX_OTHER_IDS = 40  # Vega has over a hundred identifiers; a target page needs a few
SAME_OBJECT_DEG = 2 / 3600  # two resolvers this close together found the same thing

# SIMBAD's short object types that observers meet most; others are shown as SIMBAD writes them.
OBJECT_TYPES = {
    "*": "Star", "**": "Double star", "PM*": "High proper-motion star", "V*": "Variable star",
    "EB*": "Eclipsing binary", "BY*": "BY Draconis variable", "Pl": "Exoplanet", "HII": "HII region",
    "DNe": "Dark nebula",
    "RNe": "Reflection nebula", "PN": "Planetary nebula", "SNR": "Supernova remnant", "G": "Galaxy",
    "GiG": "Galaxy in group", "OpC": "Open cluster", "GlC": "Globular cluster", "Cl*": "Star cluster",
    "MoC": "Molecular cloud", "ISM": "Interstellar matter", "QSO": "Quasar", "AGN": "Active galaxy nucleus",
}


class SesameError(ValueError):
    """The answer is not a Sesame answer."""


def lookup_url(base_url: str, name: str, resolvers: str) -> str:
    # -ox: XML; I: all identifiers. The name is the whole query string.
    return f"{base_url.rstrip('/')}/-oxI/{resolvers}?{quote(name)}"


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _float(element: Element, tag: str) -> float | None:
    text = _clean(element.findtext(tag))
    try:
        return float(text) if text else None
    except ValueError:
        raise SesameError(f"<{tag}> is not a number: {text[:40]!r}") from None


def _v_magnitude(resolver: Element) -> float | None:
    for mag in resolver.findall("mag"):
        if mag.get("band") == "V":
            return _float(mag, "v")
    return None


def display_name(main_id: str, aliases: list[str]) -> str:
    """What people call it: SIMBAD's NAME alias (Vega, Barnard's star), else the main identifier."""
    for alias in aliases:
        if alias.startswith("NAME "):
            return alias[5:]
    return re.sub(r"^(\*\*|\*|V\*)\s+", "", main_id)


def _entry(resolver: Element, source: str) -> CatalogEntry | None:
    ra, dec = _float(resolver, "jradeg"), _float(resolver, "jdedeg")
    if ra is None or dec is None:
        return None
    if not (0 <= ra < 360 and -90 <= dec <= 90):
        raise SesameError(f"position {ra}, {dec} is outside the sky")
    main_id = _clean(resolver.findtext("oname"))
    aliases = [a for a in (_clean(e.text) for e in resolver.findall("alias")) if a]
    if not main_id:
        main_id = aliases[0] if aliases else f"{ra:.5f} {dec:+.5f}"
    code = _clean(resolver.findtext("otype"))
    constellation = get_constellation(SkyCoord(ra * u.deg, dec * u.deg), short_name=True)
    others = [a for a in aliases if a != main_id and not a.startswith("NAME ")]
    return CatalogEntry(
        name=display_name(main_id, aliases), catalog_id=main_id, object_type=OBJECT_TYPES.get(code, code or "?"),
        ra_deg=ra, dec_deg=dec, magnitude=_v_magnitude(resolver), size_major_arcmin=None,
        size_minor_arcmin=None, constellation=str(constellation),
        common_names=[a[5:] for a in aliases if a.startswith("NAME ")], other_ids=others[:MAX_OTHER_IDS],
        source=source)


def _is_new(entry: CatalogEntry, found: list[CatalogEntry]) -> bool:
    return all(entry.catalog_id != other.catalog_id and (abs(entry.ra_deg - other.ra_deg) > SAME_OBJECT_DEG
                                                         or abs(entry.dec_deg - other.dec_deg) > SAME_OBJECT_DEG)
               for other in found)


def parse(body: bytes) -> list[CatalogEntry]:
    """Every object the resolvers found, first resolver first; [] when none knows the name."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise SesameError(f"the answer is not XML ({exc})") from None
    if root.tag != "Sesame":
        raise SesameError(f"the answer is <{root.tag}>, not a Sesame document")
    found: list[CatalogEntry] = []
    for target in root.iter("Target"):
        for resolver in target.findall("Resolver"):
            source = RESOLVER_NAMES.get((resolver.get("name") or "?")[0], resolver.get("name") or "Sesame")
            entry = _entry(resolver, source)
            if entry is not None and _is_new(entry, found):
                found.append(entry)
    return found
