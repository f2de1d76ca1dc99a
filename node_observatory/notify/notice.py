"""What a notifier sends: one short message about the observatory, with a priority."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: the priorities a notice may have, lowest first; each channel maps them to its own scale
PRIORITIES = ("low", "default", "high", "urgent")


@dataclass(frozen=True)
class Notice:
    """``kind`` is ``safety`` or ``alarm``; ``details`` go into JSON bodies as they are."""

    kind: str
    title: str
    message: str
    priority: str
    time: datetime
    node: str
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority {self.priority!r} is not one of {', '.join(PRIORITIES)}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "node": self.node, "title": self.title, "message": self.message,
                "priority": self.priority, "time": self.time.isoformat(), **self.details}
