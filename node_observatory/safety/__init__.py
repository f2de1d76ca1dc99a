"""The observatory's safety decision: sources, thresholds with hysteresis, one combined state."""
from .monitor import SafetyMonitor, SafetyStatus, SourcePolicy, SourceSlot, SourceStatus
from .reading import Reading, Verdict, worst
from .rules import FlagRule, HysteresisRule
from .sources.base import SafetySource, SourceError

__all__ = ["SafetyMonitor", "SafetyStatus", "SourcePolicy", "SourceSlot", "SourceStatus", "Reading", "Verdict",
           "worst", "FlagRule", "HysteresisRule", "SafetySource", "SourceError"]
