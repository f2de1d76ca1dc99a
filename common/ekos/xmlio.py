"""Safe parsing and KStars-style writing of EKOS XML files.

Reading goes through ``defusedxml`` so that entity declarations (billion laughs,
external entities) are refused, and refuses files larger than
``MAX_FILE_BYTES``. Every element keeps the line it started on, so an error
can say where the problem is.

Writing produces what KStars itself writes and parses: the ``<?xml ...?>``
header, one element per line, compact text values without surrounding
whitespace, single-quoted attributes and C-locale numbers.

``Tracker`` records which elements and attributes a reader used; whatever it
did not use is kept as an ``Extra`` (serialised subtree plus its position) or an
``ExtraAttr`` so that a writer can put it back.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

MAX_FILE_BYTES = 4 * 1024 * 1024
XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>'


# Elements that hold other elements; written as <X>\n</X> when empty, other empty elements as <X/>.
CONTAINERS = frozenset({
    "SchedulerList", "SequenceQueue", "Job", "Mosaic", "Coordinates", "StartupCondition", "Constraints",
    "CompletionCondition", "Steps", "StartupProcedure", "ShutdownProcedure", "ErrorHandlingStrategy",
    "Binning", "Frame", "Prefix", "Properties", "PropertyVector", "Calibration", "FlatSource",
    "FlatDuration", "PreAction", "HFRCheck",
})


class EkosFileError(Exception):
    """An EKOS file that cannot be read or written, with where and why."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")


@dataclass
class Extra:
    """An element the model does not know, kept verbatim to be written back.

    ``parent`` is the path from the owning object's element to the element that
    held it (ElementPath syntax with 1-based positions, ``""`` for the owner
    itself); ``index`` is its position among that parent's children.
    """

    parent: str
    index: int
    xml: str


@dataclass
class ExtraAttr:
    """An attribute the model does not know, on an element it does know."""

    parent: str
    name: str
    value: str


# ---------------------------------------------------------------- numbers


def fmt_number(value: float | int | bool) -> str:
    """Format a number as KStars writes it: C locale, '.' decimal, no grouping, no exponent."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot write the number {value!r} to an EKOS file")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".10f").rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_bool(value: bool) -> str:
    return "true" if value else "false"


# ---------------------------------------------------------------- parsing


class _LineTreeBuilder(ET.TreeBuilder):
    """A tree builder that remembers the line each element starts on."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.keep: list[ET.Element] = []
        self.expat = None

    def start(self, tag, attrs):
        elem = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(elem)] = self.expat.CurrentLineNumber
        self.keep.append(elem)  # keeps ids stable for the life of the document
        return elem


@dataclass
class Document:
    root: ET.Element
    path: str
    lines: dict[int, int]
    keep: list[ET.Element]

    def line(self, elem: ET.Element | None) -> int | None:
        return None if elem is None else self.lines.get(id(elem))


def parse_bytes(data: bytes, path: str | Path = "<input>") -> Document:
    """Parse EKOS XML safely; every failure is an ``EkosFileError``."""
    if len(data) > MAX_FILE_BYTES:
        raise EkosFileError(
            f"file is {len(data)} bytes, larger than the {MAX_FILE_BYTES} bytes an EKOS file may have", path)
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        line = getattr(parser.parser, "CurrentLineNumber", None)
        raise EkosFileError(
            f"refused: the file declares XML entities or external references ({exc}); "
            "EKOS files never need them", path, line) from None
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        reason = str(exc).split(": line")[0]
        raise EkosFileError(f"malformed XML: {reason}", path, line) from None
    return Document(root=root, path=str(path), lines=builder.lines, keep=builder.keep)


def parse_file(path: str | Path) -> Document:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EkosFileError(f"cannot read file: {exc.strerror or exc}", path) from None
    if size > MAX_FILE_BYTES:
        raise EkosFileError(
            f"file is {size} bytes, larger than the {MAX_FILE_BYTES} bytes an EKOS file may have", path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise EkosFileError(f"cannot read file: {exc.strerror or exc}", path) from None
    return parse_bytes(data, path)


def parse_fragment(xml: str) -> ET.Element:
    """Parse a preserved fragment (written by ``fragment``) back into an element."""
    return parse_bytes(xml.encode("utf-8"), "<preserved element>").root


# ---------------------------------------------------------------- reading helpers


class Tracker:
    """Reads values from a ``Document`` and records what was used."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.used: set[int] = set()
        self.used_attrs: set[tuple[int, str]] = set()

    def error(self, message: str, elem: ET.Element | None = None) -> EkosFileError:
        return EkosFileError(message, self.doc.path, self.doc.line(elem))

    def use(self, elem: ET.Element) -> ET.Element:
        self.used.add(id(elem))
        return elem

    def child(self, parent: ET.Element | None, tag: str) -> ET.Element | None:
        if parent is None:
            return None
        elem = parent.find(tag)
        return None if elem is None else self.use(elem)

    def children(self, parent: ET.Element | None, tag: str) -> list[ET.Element]:
        if parent is None:
            return []
        return [self.use(elem) for elem in parent.findall(tag)]

    def attr(self, elem: ET.Element | None, name: str) -> str | None:
        if elem is None or name not in elem.attrib:
            return None
        self.used_attrs.add((id(elem), name))
        return elem.attrib[name].strip()

    @staticmethod
    def own_text(elem: ET.Element) -> str:
        return (elem.text or "").strip()

    def text(self, parent: ET.Element | None, tag: str) -> str | None:
        """The stripped text of ``parent/tag``; None when the element is absent."""
        elem = self.child(parent, tag)
        return None if elem is None else self.own_text(elem)

    def to_float(self, raw: str | None, elem: ET.Element | None, what: str) -> float | None:
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.error(f"{what}: {raw!r} is not a number", elem) from None
        if not math.isfinite(value):
            raise self.error(f"{what}: {raw!r} is not a finite number", elem)
        return value

    def to_int(self, raw: str | None, elem: ET.Element | None, what: str) -> int | None:
        value = self.to_float(raw, elem, what)
        if value is None:
            return None
        if value != int(value):
            raise self.error(f"{what}: {raw!r} is not a whole number", elem)
        return int(value)

    def number(self, parent: ET.Element | None, tag: str) -> float | None:
        elem = self.child(parent, tag)
        return None if elem is None else self.to_float(self.own_text(elem), elem, tag)

    def integer(self, parent: ET.Element | None, tag: str) -> int | None:
        elem = self.child(parent, tag)
        return None if elem is None else self.to_int(self.own_text(elem), elem, tag)

    def leftovers(self, owner: ET.Element, skip: tuple[ET.Element, ...] = ()) -> tuple[list[Extra], list[ExtraAttr]]:
        """What under ``owner`` was not used (elements in ``skip`` belong to other objects)."""
        self.use(owner)
        skipped = {id(elem) for elem in skip}
        extras: list[Extra] = []
        attrs: list[ExtraAttr] = []

        def walk(elem: ET.Element, path: str) -> None:
            for name, value in elem.attrib.items():
                if (id(elem), name) not in self.used_attrs:
                    attrs.append(ExtraAttr(path, name, value))
            seen: dict[str, int] = {}
            for index, child in enumerate(elem):
                seen[child.tag] = seen.get(child.tag, 0) + 1
                if id(child) in skipped:
                    continue
                if id(child) in self.used:
                    step = f"{child.tag}[{seen[child.tag]}]"
                    walk(child, f"{path}/{step}" if path else step)
                else:
                    extras.append(Extra(path, index, fragment(child)))

        walk(owner, "")
        return extras, attrs


# ---------------------------------------------------------------- writing


def add(parent: ET.Element, tag: str, text: str | float | int | None = None, **attrs: str) -> ET.Element:
    """Append ``<tag attrs>text</tag>``; numbers are written in the C locale.

    Without ``text`` the element is a container (or, with attributes only, self-closing).
    """
    elem = ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        elem.text = text if isinstance(text, str) else fmt_number(text)
    return elem


def restore(owner: ET.Element, extras: list[Extra], extra_attrs: list[ExtraAttr]) -> None:
    """Put preserved elements and attributes back where they were read from.

    A preserved item whose parent no longer exists (the caller removed it) is dropped.
    """
    for extra in extras:
        parent = owner if extra.parent == "" else owner.find(extra.parent)
        if parent is not None:
            parent.insert(min(max(extra.index, 0), len(parent)), parse_fragment(extra.xml))
    for extra_attr in extra_attrs:
        parent = owner if extra_attr.parent == "" else owner.find(extra_attr.parent)
        if parent is not None and extra_attr.name not in parent.attrib:
            parent.set(extra_attr.name, extra_attr.value)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return (_escape_text(text).replace("'", "&apos;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def _emit(elem: ET.Element, out: list[str]) -> None:
    attrs = "".join(f" {name}='{_escape_attr(value)}'" for name, value in elem.attrib.items())
    text = _escape_text((elem.text or "").strip())
    if len(elem):
        out.append(f"<{elem.tag}{attrs}>{text}")
        for child in elem:
            _emit(child, out)
        out.append(f"</{elem.tag}>")
    elif elem.text is None and elem.tag in CONTAINERS:
        out.append(f"<{elem.tag}{attrs}>")  # KStars writes an empty container on two lines
        out.append(f"</{elem.tag}>")
    elif elem.text is None:
        out.append(f"<{elem.tag}{attrs}/>")  # e.g. <SchedulerAlgorithm value='1'/>
    else:
        out.append(f"<{elem.tag}{attrs}>{text}</{elem.tag}>")


def fragment(elem: ET.Element) -> str:
    """One element and its subtree in the compact KStars style, without a header."""
    out: list[str] = []
    _emit(elem, out)
    return "\n".join(out)


def serialize(root: ET.Element) -> str:
    """A whole document as KStars writes it."""
    return XML_HEADER + "\n" + fragment(root) + "\n"
