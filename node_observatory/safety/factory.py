"""Build a :class:`~.monitor.SafetyMonitor` from the observatory config."""
from __future__ import annotations

import zoneinfo

from common.config import ObservatoryConfig, SafetySourceConfig, SiteConfig

from .monitor import SafetyMonitor, SourcePolicy, SourceSlot
from .rules import FlagRule, HysteresisRule
from .sources import BoltwoodSource, CsvSource, JsonSource, KpSource, OvationSource, SmokeSource, SunSource
from .sources.base import SafetySource


def build_source(spec: SafetySourceConfig, site: SiteConfig) -> SafetySource:
    tz = zoneinfo.ZoneInfo(spec.timezone)
    lat, lon = site.latitude_deg, site.longitude_deg
    if spec.type == "boltwood":
        return BoltwoodSource(spec.name, spec.path, tz)
    if spec.type == "json":
        return JsonSource(spec.name, path=spec.path or None, command=spec.command or None, tz=tz,
                          timeout_s=min(spec.cadence_s, 60.0))
    if spec.type == "csv":
        return CsvSource(spec.name, spec.path, tz)
    if spec.type == "sun":
        return SunSource(spec.name, lat, lon)
    if spec.type == "kp":
        return KpSource(spec.name, spec.path)
    if spec.type == "ovation":
        return OvationSource(spec.name, spec.path, lat, lon)
    if spec.type == "smoke":
        return SmokeSource(spec.name, spec.path, lat, lon, spec.within_km)
    raise ValueError(f"unknown source type {spec.type!r}")  # pragma: no cover - config validates the type


def build_rules(spec: SafetySourceConfig) -> list:
    rules: list = [FlagRule(flag) for flag in spec.unsafe_flags or []]
    for quantity, limits in spec.thresholds.items():
        if limits.unsafe_above is not None:
            safe = limits.unsafe_above if limits.safe_below is None else limits.safe_below
            rules.append(HysteresisRule(quantity, limits.unsafe_above, safe, "above", limits.unsafe_after_s))
        if limits.unsafe_below is not None:
            safe = limits.unsafe_below if limits.safe_above is None else limits.safe_above
            rules.append(HysteresisRule(quantity, limits.unsafe_below, safe, "below", limits.unsafe_after_s))
    return rules


def build_monitor(config: ObservatoryConfig, hold_at_start: bool = True) -> SafetyMonitor:
    slots = [
        SourceSlot(build_source(spec, config.site),
                   SourcePolicy(spec.cadence_s, spec.max_age_s, spec.required, build_rules(spec)))
        for spec in config.safety.sources
    ]
    return SafetyMonitor(slots, config.safety.min_safe_minutes * 60.0, hold_at_start=hold_at_start)
