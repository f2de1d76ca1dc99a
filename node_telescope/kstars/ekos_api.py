"""The parts of the KStars 3.6 D-Bus API that OBSY drives, with the numbers it uses named.

Numbers as KStars 3.6.2 sends them (read from a running KStars: the
scheduler's ``status`` property, ``newStatus``/``newParkStatus`` signals).
"""
from __future__ import annotations

import time
from enum import IntEnum

from .dbus import DBusFailure, SessionBus

EKOS = ("/KStars/Ekos", "org.kde.kstars.Ekos")
SCHEDULER = ("/KStars/Ekos/Scheduler", "org.kde.kstars.Ekos.Scheduler")
CAPTURE = ("/KStars/Ekos/Capture", "org.kde.kstars.Ekos.Capture")
MOUNT = ("/KStars/Ekos/Mount", "org.kde.kstars.Ekos.Mount")
KSTARS = ("/KStars", "org.kde.kstars")
EKOS_ACTION = "/kstars/MainWindow_1/actions/ekos"


class SchedulerState(IntEnum):
    IDLE = 0
    STARTUP = 1
    RUNNING = 2
    PAUSED = 3
    SHUTDOWN = 4
    ABORTED = 5
    LOADING = 6


class CommunicationStatus(IntEnum):
    """``ekosStatus`` and ``indiStatus``."""
    IDLE = 0
    PENDING = 1
    SUCCESS = 2
    ERROR = 3


class ParkStatus(IntEnum):
    UNKNOWN = 0
    PARKED = 1
    PARKING = 2
    UNPARKING = 3
    UNPARKED = 4
    ERROR = 5


class MountStatus(IntEnum):
    IDLE = 0
    MOVING = 1
    SLEWING = 2
    TRACKING = 3
    PARKING = 4
    PARKED = 5
    ERROR = 6


CAPTURE_CAPTURING = 2  # Capture newStatus while the camera exposes


class EkosApi:
    """Typed calls on one session bus; every call raises ``DBusFailure`` with a reason."""

    def __init__(self, bus: SessionBus):
        self.bus = bus

    def _call(self, where, method, signature=None, *args, timeout_s=None):
        return self.bus.call(where[0], where[1], method, signature, *args, timeout_s=timeout_s)

    def _get(self, where, name, timeout_s=None):
        return self.bus.get(where[0], where[1], name, timeout_s=timeout_s)

    # --- KStars and the Ekos manager --------------------------------------------
    def kstars_location(self) -> str:
        return self._call(KSTARS, "location")[0]

    def open_ekos(self, timeout_s: float) -> None:
        """Show the Ekos window; its action appears a moment after KStars takes its bus name."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.bus.call(EKOS_ACTION, "org.qtproject.Qt.QAction", "trigger", timeout_s=5)
                return
            except DBusFailure as exc:
                if time.monotonic() > deadline:
                    raise DBusFailure(f"the Ekos window could not be opened: {exc}") from None
                time.sleep(0.5)

    def profiles(self) -> list[str]:
        return list(self._call(EKOS, "getProfiles")[0])

    def set_profile(self, name: str) -> bool:
        return bool(self._call(EKOS, "setProfile", "s", name)[0])

    def start_ekos(self) -> None:
        self._call(EKOS, "start")

    def ekos_status(self) -> CommunicationStatus:
        return CommunicationStatus(self._get(EKOS, "ekosStatus"))

    def indi_status(self) -> CommunicationStatus:
        return CommunicationStatus(self._get(EKOS, "indiStatus"))

    def ekos_log(self, lines: int = 5) -> list[str]:
        return list(self._get(EKOS, "logText"))[:lines]

    # --- scheduler --------------------------------------------------------------
    def scheduler_status(self, timeout_s: float | None = None) -> SchedulerState:
        return SchedulerState(self._get(SCHEDULER, "status", timeout_s))

    def scheduler_log(self, lines: int = 8) -> list[str]:
        return list(self._get(SCHEDULER, "logText"))[:lines]  # newest first

    def load_scheduler(self, path: str) -> bool:
        self._call(SCHEDULER, "removeAllJobs")
        return bool(self._call(SCHEDULER, "loadScheduler", "s", path, timeout_s=30)[0])

    def start_scheduler(self) -> None:
        self._call(SCHEDULER, "start")

    def stop_scheduler(self) -> None:
        self._call(SCHEDULER, "stop")

    # --- capture and mount ------------------------------------------------------
    def abort_capture(self) -> None:
        self._call(CAPTURE, "abort")

    def capture_target(self) -> str:
        return self._get(CAPTURE, "targetName")

    def capture_filter(self) -> str:
        return self._get(CAPTURE, "filter")

    def park_status(self, timeout_s: float | None = None) -> ParkStatus:
        return ParkStatus(self._get(MOUNT, "parkStatus", timeout_s))

    def park(self) -> bool:
        return bool(self._call(MOUNT, "park")[0])

    def abort_mount(self) -> bool:
        return bool(self._call(MOUNT, "abort")[0])
