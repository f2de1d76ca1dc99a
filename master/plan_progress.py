"""How far each imaging plan has come: accepted light frames only, row by row, night by night.

A frame counts toward a row when it is an accepted light of the plan's target
(linked by id or recorded under the target's name) with the row's filter,
exposure and binning, and the row's gain and offset when the row sets them (a
frame whose header does not say counts: older capture programs leave them out).
Two rows asking for the same settings share those frames in row order rather
than both counting them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from master.models import Frame, ImagingPlan, PlanRow


def same_exposure(a: float | None, b: float) -> bool:
    # Capture programs write 300, 300.0 or 300.000001 for the same exposure.
    return a is not None and abs(a - b) <= max(0.05, 0.001 * b)


def same_filter(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


@dataclass
class RowProgress:
    row: PlanRow
    by_night: dict[date | None, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return sum(self.by_night.values())

    @property
    def remaining(self) -> int:
        return max(0, self.row.count - self.done)


@dataclass
class PlanProgress:
    plan: ImagingPlan
    rows: list[RowProgress]

    @property
    def done(self) -> int:
        return sum(r.done for r in self.rows)

    @property
    def total(self) -> int:
        return sum(r.row.count for r in self.rows)

    @property
    def complete(self) -> bool:
        return bool(self.rows) and all(r.remaining == 0 for r in self.rows)

    @property
    def nights(self) -> list[date | None]:
        found = {night for r in self.rows for night in r.by_night}
        return sorted(found, key=lambda n: (n is None, n))


def same_setting(frame_value: float | None, row_value: float | None) -> bool:
    """A row without the setting takes any frame; a frame that does not record it is given the benefit."""
    return row_value is None or frame_value is None or abs(frame_value - row_value) < 0.5


def matches(entry: list, row: PlanRow) -> bool:
    filter_name, exposure, _, binning, gain, offset, _ = entry
    return (same_filter(filter_name, row.filter_name) and same_exposure(exposure, row.exposure_s)
            and same_setting(binning, row.binning or 1) and same_setting(gain, row.gain)
            and same_setting(offset, row.offset))


def accepted_counts(session: Session, plan: ImagingPlan) -> list[tuple]:
    """(filter, exposure, night, binning, gain, offset, frames) of the target's accepted lights, oldest night first."""
    target = plan.target
    stmt = (select(Frame.filter_name, Frame.exposure_s, Frame.night, Frame.binning_x, Frame.gain, Frame.offset,
                   func.count())
            .where(Frame.frame_type == "light", Frame.accepted.is_(True),
                   or_(Frame.target_id == target.id, func.lower(Frame.target_name) == target.name.lower()))
            .group_by(Frame.filter_name, Frame.exposure_s, Frame.night, Frame.binning_x, Frame.gain, Frame.offset))
    return sorted(session.execute(stmt).all(), key=lambda r: (r[2] is None, r[2] or date.min))


def plan_progress(session: Session, plan: ImagingPlan) -> PlanProgress:
    pool = [list(entry) for entry in accepted_counts(session, plan)]
    rows = []
    for row in plan.rows:
        taken: dict[date | None, int] = defaultdict(int)
        wanted = row.count
        for entry in pool:
            if wanted == 0:
                break
            if entry[-1] and matches(entry, row):
                used = min(wanted, entry[-1])
                entry[-1] -= used
                wanted -= used
                taken[entry[2]] += used
        rows.append(RowProgress(row, dict(taken)))
    return PlanProgress(plan, rows)


def plan_dict(progress: PlanProgress) -> dict:
    """The API's view of a plan with its progress."""
    plan = progress.plan
    return {
        "id": plan.id, "target": {"id": plan.target.id, "name": plan.target.name,
                                  "ra_deg": plan.target.ra_deg, "dec_deg": plan.target.dec_deg},
        "priority": plan.priority, "active": plan.active, "complete": progress.complete,
        "constraints": {"min_altitude_deg": plan.min_altitude_deg, "max_airmass": plan.max_airmass,
                        "min_moon_separation_deg": plan.min_moon_separation_deg, "twilight": plan.twilight,
                        "start_date": plan.start_date and plan.start_date.isoformat(),
                        "end_date": plan.end_date and plan.end_date.isoformat(),
                        "max_moon_illumination": plan.max_moon_illumination,
                        "night_from": plan.night_from and plan.night_from.isoformat("minutes"),
                        "night_until": plan.night_until and plan.night_until.isoformat("minutes")},
        "imaging": {"dither_every": plan.dither_every, "focus_at_start": bool(plan.focus_at_start),
                    "focus_every_min": plan.focus_every_min, "focus_temp_delta": plan.focus_temp_delta,
                    "calib_darks": plan.calib_darks or 0, "calib_flats": plan.calib_flats or 0,
                    "flat_exposure_s": plan.flat_exposure_s},
        "rows": [{"id": r.row.id, "filter_name": r.row.filter_name, "exposure_s": r.row.exposure_s,
                  "binning": r.row.binning or 1, "gain": r.row.gain, "offset": r.row.offset,
                  "count": r.row.count, "accepted": r.done, "remaining": r.remaining,
                  "by_night": {(n.isoformat() if n else "unknown"): c for n, c in r.by_night.items()}}
                 for r in progress.rows],
        "accepted": progress.done, "total": progress.total,
    }
