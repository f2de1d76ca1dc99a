"""What the roles share when ``obsy demo`` runs them in one process."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


DEMO_SITE = "demo"  # the [mqtt] site of the demo's live topics


@dataclass
class EmbeddedContext:
    data_dir: Path
    broker: object  # dramatiq in-process broker
    bus: object  # InProcessEventBus
    store: object  # LocalObjectStore
    web_port: int = 8000
    time_scale: float = 1.0
    mqtt_port: int | None = None  # the demo's private Mosquitto on 127.0.0.1, when there is one
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    announcements: list[str] = field(default_factory=list)

    def on_stop(self, fn: Callable[[], None]) -> None:
        self.stoppers.append(fn)

    def announce(self, line: str) -> None:
        self.announcements.append(line)
