"""Safety sources: each turns a file, a command or a computation into a :class:`~..reading.Reading`."""
from .base import SafetySource, SourceError
from .boltwood import BoltwoodSource, parse_boltwood_line
from .generic import CsvSource, JsonSource, parse_csv_text, parse_json_text
from .noaa import (KpSource, OvationSource, SmokeSource, aurora_probability, parse_kp,
                   parse_ovation, parse_smoke_kml, smoke_at)
from .sun import SunSource, sun_altitude_deg

__all__ = [
    "SafetySource", "SourceError", "BoltwoodSource", "parse_boltwood_line", "CsvSource", "JsonSource",
    "parse_csv_text", "parse_json_text", "KpSource", "OvationSource", "SmokeSource", "aurora_probability",
    "parse_kp", "parse_ovation", "parse_smoke_kml", "smoke_at", "SunSource", "sun_altitude_deg",
]
