"""What the target page shows beyond the target's fields: which site and optical train, which night,
and the three plots (tonight, the months, the framing)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from master.models import Site as SiteRow
from master.models import Target, TelescopeNode
from master.optics import field_of_view_arcmin
from master.planning.sky import Site
from master.target_sky import best_months, target_tonight
from .context import db
from .target_plots import dark_hours_above, framing_plot, months_plot, tonight_plot

MIN_ALT = 30.0


@dataclass
class TargetSky:
    site_row: SiteRow | None = None
    binding: TelescopeNode | None = None
    bindings: list | None = None
    night: date | None = None
    zone: ZoneInfo | None = None
    tonight: object = None
    facts: dict | None = None
    months: object = None
    framing: object = None
    problem: str | None = None  # why a plot is missing


def sky_site(row: SiteRow) -> Site | None:
    if row.latitude_deg is None or row.longitude_deg is None:
        return None
    horizon = tuple((float(a), float(h)) for a, h in (row.horizon or []))
    return Site(row.latitude_deg, row.longitude_deg, row.elevation_m or 0.0, horizon)


def zone_of(row: SiteRow) -> ZoneInfo:
    try:
        return ZoneInfo(row.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def current_night(zone: ZoneInfo, now: datetime | None = None) -> date:
    """A night runs from local noon to the next noon, and is named by its first date."""
    return ((now or datetime.now(timezone.utc)).astimezone(zone) - timedelta(hours=12)).date()


def _choose(args) -> TargetSky:
    bindings = list(db().scalars(select(TelescopeNode).order_by(TelescopeNode.node_name)))
    chosen = next((b for b in bindings if str(b.id) == args.get("node")), None)
    chosen = chosen or next((b for b in bindings if field_of_view_arcmin(b.camera, b.telescope)), None)
    chosen = chosen or (bindings[0] if bindings else None)
    site_row = chosen.site if chosen else db().scalars(select(SiteRow).order_by(SiteRow.name)).first()
    return TargetSky(site_row=site_row, binding=chosen, bindings=bindings)


def target_sky(target: Target, args) -> TargetSky:
    view = _choose(args)
    if view.binding is not None:
        fov = field_of_view_arcmin(view.binding.camera, view.binding.telescope)
        if fov is not None:
            view.framing = framing_plot(fov, target.size_major_arcmin, target.size_minor_arcmin,
                                        target.position_angle_deg)
    if target.ra_deg is None or target.dec_deg is None:
        view.problem = "The target has no coordinates."
        return view
    site = sky_site(view.site_row) if view.site_row is not None else None
    if site is None:
        view.problem = "Add a site with its latitude and longitude on Equipment to see when the target is up."
        return view
    view.zone = zone_of(view.site_row)
    view.night = current_night(view.zone)
    if args.get("date"):
        try:
            view.night = date.fromisoformat(args["date"])
        except ValueError:
            view.problem = f"date {args['date']!r} is not a date like 2026-12-01; showing tonight"
    tonight = target_tonight(site, view.night, float(target.ra_deg), float(target.dec_deg))
    view.tonight = tonight_plot(tonight, view.zone)
    separation = tonight.track.moon_separation[tonight.sky.dark("astronomical")]
    view.facts = {
        "transit": tonight.transit.astimezone(view.zone).strftime("%H:%M") if tonight.transit else None,
        "transit_alt": tonight.transit_alt, "dark_hours": dark_hours_above(tonight, MIN_ALT),
        "max_alt": float(tonight.track.alt.max()), "moon_lit": float(tonight.sky.moon_illumination.max()),
        "separation": (float(separation.min()), float(separation.max())) if separation.size else None,
    }
    months = best_months(site, view.night.year, float(target.ra_deg), float(target.dec_deg), MIN_ALT)
    view.months = months_plot(months, view.night.month, MIN_ALT)
    return view
