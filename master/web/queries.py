"""Frame filters and pages, shared by the browser and the JSON API.

Built to stay fast on 100,000+ frames: only one page of rows is loaded, the
filters hit indexed columns, the total is one COUNT with the same filters, and
dropdown values come from SELECT DISTINCT.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from master.models import Frame, FrameHeader

TRUE_WORDS = {"yes", "1", "true", "accepted"}
FALSE_WORDS = {"no", "0", "false", "rejected"}


@dataclass(frozen=True)
class FrameFilters:
    night: date | None = None
    target: str | None = None
    filter: str | None = None
    type: str | None = None
    accepted: bool | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args) -> tuple["FrameFilters", list[str]]:
        """Filters from query parameters, plus a message for each value that was ignored."""
        errors: list[str] = []
        values: dict = {}
        for name in ("target", "filter", "type", "q"):
            value = (args.get(name) or "").strip()
            if value:
                values[name] = value[:200]
        night = (args.get("night") or "").strip()
        if night:
            try:
                values["night"] = date.fromisoformat(night)
            except ValueError:
                errors.append(f"night {night!r} is not a date like 2024-01-31")
        accepted = (args.get("accepted") or "").strip().lower()
        if accepted in TRUE_WORDS:
            values["accepted"] = True
        elif accepted in FALSE_WORDS:
            values["accepted"] = False
        elif accepted:
            errors.append(f"accepted {accepted!r} must be 'yes' or 'no'")
        return cls(**values), errors

    def to_args(self) -> dict[str, str]:
        """Query parameters that reproduce these filters (for links)."""
        args = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            args[item.name] = str(value)
        return args

    @property
    def active(self) -> bool:
        return bool(self.to_args())

    def apply(self, stmt):
        if self.night is not None:
            stmt = stmt.where(Frame.night == self.night)
        if self.target is not None:
            stmt = stmt.where(Frame.target_name == self.target)
        if self.filter is not None:
            stmt = stmt.where(Frame.filter_name == self.filter)
        if self.type is not None:
            stmt = stmt.where(Frame.frame_type == self.type)
        if self.accepted is not None:
            stmt = stmt.where(Frame.accepted == self.accepted)
        if self.q is not None:
            matches = select(FrameHeader.frame_id).where(
                FrameHeader.frame_id == Frame.id, FrameHeader.text.icontains(self.q, autoescape=True))
            stmt = stmt.where(matches.exists())
        return stmt


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def numbers(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with None where a gap is shown: 1 … 4 5 [6] 7 8 … 20."""
        keep = {1, self.pages} | set(range(self.page - around, self.page + around + 1))
        shown: list[int | None] = []
        for number in sorted(n for n in keep if 1 <= n <= self.pages):
            if shown and shown[-1] is not None and number - shown[-1] > 1:
                shown.append(None)
            shown.append(number)
        return shown


def frame_page(session: Session, filters: FrameFilters, page: int, per_page: int,
               clamp: bool = False) -> Page:
    """One page of frames, newest observation first. ``clamp`` moves a page past the end to the last."""
    total = session.scalar(filters.apply(select(func.count()).select_from(Frame))) or 0
    if clamp:
        page = min(page, max(1, math.ceil(total / per_page)))
    stmt = (filters.apply(select(Frame))
            .order_by(Frame.date_obs.desc(), Frame.id.desc())
            .limit(per_page).offset((page - 1) * per_page))
    return Page(list(session.scalars(stmt)), page, per_page, total)


def filter_choices(session: Session) -> dict[str, list]:
    """Values for the filter dropdowns, one SELECT DISTINCT each."""
    def distinct_values(column, descending=False):
        order = column.desc() if descending else column
        return list(session.scalars(select(column).distinct().where(column.is_not(None)).order_by(order)))

    return {
        "night": distinct_values(Frame.night, descending=True),
        "target": distinct_values(Frame.target_name),
        "filter": distinct_values(Frame.filter_name),
        "type": distinct_values(Frame.frame_type),
    }


def parse_positive_int(value: str | None, name: str, default: int, maximum: int | None = None) -> int:
    """An integer query parameter ≥ 1 (and ≤ maximum); raises ValueError with a message."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a whole number") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum}")
    return number
