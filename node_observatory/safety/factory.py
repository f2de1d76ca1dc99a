"""Build a :class:`~.monitor.SafetyMonitor` from the observatory config."""
from __future__ import annotations

import zoneinfo
from pathlib import Path

from common import paths
from common.config import ObservatoryConfig
from common.config_observatory import SafetySourceConfig, SiteConfig

from .monitor import SafetyMonitor, SourcePolicy, SourceSlot
from .rules import FlagRule, HysteresisRule
from .sources import BoltwoodSource, CsvSource, JsonSource, KpSource, OvationSource, SmokeSource, SunSource
from .sources.base import SafetySource
from .sources.feed import Feed, cache_file
from .sources.indi_link import IndiLink
from .sources.indi_weather import IndiWeatherSource
from .sources.noaa import kp_document, ovation_document, smoke_document
from .sources.rain import COMMAND_PATTERN, SERIAL_PATTERN, CommandRainSource, SerialRainSource, WetRule
from .sources.serial_line import SerialLines

#: who runs each fetched product, for the reasons shown when a fetch fails
FEED_PROVIDERS = {"kp": ("NOAA SWPC", kp_document), "ovation": ("NOAA SWPC", ovation_document),
                  "smoke": ("NOAA HMS", smoke_document)}


def default_cache_dir() -> Path:
    return paths.data_dir() / "cache" / "safety"


def cache_dir(config: ObservatoryConfig) -> Path:
    return Path(config.safety.cache_dir) if config.safety.cache_dir else default_cache_dir()


def source_input(spec: SafetySourceConfig, cache: Path | None, wait_fetch: bool):
    """The path, or for a url source a :class:`Feed` that refetches on the source's cadence."""
    if not spec.url:
        return spec.path
    provider, check = FEED_PROVIDERS[spec.type]
    return Feed(spec.url, cache_file(cache or default_cache_dir(), spec.name), provider, check, refetch_s=spec.cadence_s,
                max_age_s=spec.max_age_s, timeout_s=spec.timeout_s, wait=wait_fetch)


def build_source(spec: SafetySourceConfig, site: SiteConfig, cache: Path | None = None,
                 wait_fetch: bool = False) -> SafetySource:
    """``wait_fetch``: url sources wait for their fetch and INDI sources for their first connection
    (a one-shot report) instead of answering at once (the node loop, which must not stall on the network)."""
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
        return KpSource(spec.name, source_input(spec, cache, wait_fetch))
    if spec.type == "ovation":
        return OvationSource(spec.name, source_input(spec, cache, wait_fetch), lat, lon)
    if spec.type == "smoke":
        return SmokeSource(spec.name, source_input(spec, cache, wait_fetch), lat, lon, spec.within_km)
    if spec.type == "indi_weather":
        link = IndiLink(spec.indi_host, spec.indi_port, spec.device, timeout_s=spec.timeout_s,
                        retry_s=max(spec.cadence_s, 5.0))
        link.start(wait=wait_fetch)
        return IndiWeatherSource(spec.name, link, spec.device)
    if spec.type == "rain_serial":
        return SerialRainSource(spec.name, SerialLines(spec.path, spec.baud), wet_rule(spec, SERIAL_PATTERN), spec.send)
    if spec.type == "rain_command":
        return CommandRainSource(spec.name, spec.command, wet_rule(spec, COMMAND_PATTERN), timeout_s=spec.timeout_s,
                                 decide=spec.decide, wet_exit=spec.wet_exit, dry_exit=spec.dry_exit)
    if spec.type == "allsky":
        from .sources.allsky import AllSkySource  # numpy, sep and Pillow only when a camera is configured

        if spec.indi_allsky_db:
            from .sources.allsky_db import IndiAllSkyImages

            where = IndiAllSkyImages(spec.indi_allsky_db, spec.image_root or None)
        else:
            where = spec.path
        return AllSkySource(spec.name, where, spec.sky_model or None, min_altitude=spec.min_altitude_deg,
                            reference_density=spec.reference_density)
    raise ValueError(f"unknown source type {spec.type!r}")  # pragma: no cover - config validates the type


def wet_rule(spec: SafetySourceConfig, default_pattern: str) -> WetRule:
    wet_above = 0.0 if spec.wet_above is None and spec.wet_below is None else spec.wet_above
    return WetRule(spec.pattern or default_pattern, wet_above, spec.wet_below)


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


def build_monitor(config: ObservatoryConfig, hold_at_start: bool = True, wait_fetch: bool = False) -> SafetyMonitor:
    cache = cache_dir(config)
    slots = [
        SourceSlot(build_source(spec, config.site, cache, wait_fetch),
                   SourcePolicy(spec.cadence_s, spec.max_age_s, spec.required, build_rules(spec)))
        for spec in config.safety.sources
    ]
    return SafetyMonitor(slots, config.safety.min_safe_minutes * 60.0, hold_at_start=hold_at_start)
