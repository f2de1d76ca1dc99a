"""The EKOS backend: KStars' own scheduler runs each job, OBSY follows it over D-Bus.

For a job it writes a scheduler list and sequence queues for what is still
to take (a fresh capture folder per run, so nothing EKOS finds on disk is
counted twice), loads them into the EKOS scheduler, starts it and follows
its signals: mount slewing → ``slewing``, camera capturing → ``exposing``,
``captureComplete``/``newSequenceImage`` → the frame goes into the spool.
The scheduler returning to idle ends the run; frames it did not take fail
the job with the scheduler's last log lines.

Liveness: KStars is pinged every few seconds while a job runs. Its bus name
vanishing means it crashed or quit; a ping without an answer means it hangs.
Either fails the job within ``call_timeout_s`` plus a few seconds.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

from astropy.io import fits

from common.ekos.from_job import EkosOptions, match_row, remaining_rows, write_job_files
from ..kstars.dbus import KSTARS_SERVICE, DBusFailure, SessionBus
from ..kstars.ekos_api import CAPTURE_CAPTURING, CommunicationStatus, EkosApi, MountStatus, ParkStatus, SchedulerState
from ..kstars.launcher import KStarsError, KStarsLauncher
from .base import BackendError, CapturedFrame, ExposureAborted, JobContext, ScheduleBackend

log = logging.getLogger(__name__)
PING_EVERY_S = 5.0
START_GRACE_S = 60.0  # the scheduler must leave idle this soon after start()


class EkosBackend(ScheduleBackend):
    name = "ekos"

    def __init__(self, config, work_dir: str | Path | None = None):
        self.cfg = config.ekos
        root = self.cfg.work_dir or work_dir
        if not root:
            raise BackendError("the EKOS backend needs a work directory (ekos.work_dir)")
        self.work_dir = Path(root).expanduser()
        self.launcher = KStarsLauncher(self.cfg, self.work_dir / "kstars.log")
        self._bus: SessionBus | None = None
        self._lock = threading.RLock()
        self._abort = threading.Event()
        self._last_park: ParkStatus | None = None
        self.scheduler_log: deque[str] = deque(maxlen=20)

    # --- connection ----------------------------------------------------------------
    def _api(self) -> EkosApi:
        with self._lock:
            if self._bus is None or not self._bus.alive:
                try:
                    self._bus = SessionBus(self.cfg.dbus_address, timeout_s=self.cfg.call_timeout_s)
                except DBusFailure as exc:
                    raise BackendError(str(exc)) from None
            return EkosApi(self._bus)

    def connect(self) -> None:
        """KStars up (started or attached), Ekos started on the profile, devices connected."""
        api = self._api()
        try:
            how = self.launcher.ensure(api.bus)
        except KStarsError as exc:
            raise BackendError(str(exc)) from None
        try:
            if how == "started":
                api.open_ekos(timeout_s=self.cfg.start_timeout_s)
            if api.ekos_status() is CommunicationStatus.SUCCESS and api.indi_status() is CommunicationStatus.SUCCESS:
                return
            profiles = api.profiles()
            if self.cfg.profile not in profiles:
                raise BackendError(f"Ekos has no profile {self.cfg.profile!r} (it has: {', '.join(profiles) or 'none'}); "
                                   "create it in Ekos or set ekos.create_profile")
            if not api.set_profile(self.cfg.profile):
                raise BackendError(f"Ekos refused to select the profile {self.cfg.profile!r}")
            api.start_ekos()
            self._wait_ekos(api)
        except DBusFailure as exc:
            raise BackendError(f"KStars/Ekos over D-Bus: {exc}") from None

    def _wait_ekos(self, api: EkosApi) -> None:
        deadline = time.monotonic() + self.cfg.ekos_timeout_s
        ekos = indi = None
        while time.monotonic() < deadline:
            ekos, indi = api.ekos_status(), api.indi_status()
            if CommunicationStatus.ERROR in (ekos, indi):
                raise BackendError(f"Ekos could not start the profile {self.cfg.profile!r}: "
                                   + (" | ".join(api.ekos_log()) or "no reason given (does the profile list its drivers?)"))
            if ekos is CommunicationStatus.SUCCESS and indi is CommunicationStatus.SUCCESS:
                return
            time.sleep(0.5)
        raise BackendError(f"Ekos did not connect the devices of {self.cfg.profile!r} within "
                           f"{self.cfg.ekos_timeout_s:g} s (Ekos {ekos.name if ekos else '?'}, INDI "
                           f"{indi.name if indi else '?'}): " + " | ".join(api.ekos_log()))

    def _options(self, capture_dir: Path) -> EkosOptions:
        return EkosOptions(capture_dir=str(capture_dir), profile=self.cfg.profile, steps=tuple(self.cfg.steps),
                           enforce_twilight=self.cfg.enforce_twilight, min_altitude_deg=self.cfg.min_altitude_deg,
                           filter_aliases=self.cfg.alias_map())

    # --- a job -----------------------------------------------------------------------
    def run_job(self, context: JobContext) -> None:
        self._abort.clear()
        job = context.job
        job_dir = self.work_dir / job.job_id
        self.connect()
        self._check_abort()
        if job_dir.exists():
            # A run before a restart of this node: a KStars that outlived the node may still be
            # running it. Stop it, then take the frames it saved meanwhile.
            self._stop_running_scheduler(self._api())
            self._collect(context, job_dir, remaining_rows(job, context.rows_done))
        left = remaining_rows(job, context.rows_done)
        if not left:
            return
        run_dir = _next_run_dir(job_dir)
        esl = write_job_files(job, left, self._options(run_dir / "captures"), run_dir)
        api = self._api()
        try:
            with api.bus.subscribe() as signals:
                if not api.load_scheduler(str(esl)):
                    raise BackendError(f"EKOS refused the scheduler list {esl}: " + " | ".join(api.scheduler_log()))
                api.start_scheduler()
                log.info("EKOS scheduler started with %s (%d frames)", esl, sum(left.values()))
                self._follow(api, signals, context, run_dir, left)
        except DBusFailure as exc:
            raise BackendError(self._diagnose(api, exc)) from None
        self._collect(context, run_dir, left)
        missing = sum(remaining_rows(job, context.rows_done).values())
        if missing:
            raise BackendError(f"the EKOS scheduler finished with {missing} frame(s) not taken: "
                               + " | ".join(list(self.scheduler_log)[-4:]))

    def _follow(self, api: EkosApi, signals, context: JobContext, run_dir: Path, left: dict[str, int]) -> None:
        started_at = time.monotonic()
        deadline = started_at + self.cfg.max_job_hours * 3600
        next_ping = started_at + PING_EVERY_S
        running = False
        target: str | None = None
        names = _TargetNames(context.job)
        last_exposing = None
        while True:
            self._check_abort(api)
            signal = signals.get(timeout_s=0.5)
            if signal is not None:
                if signal.member == "NameOwnerChanged":
                    if signal.args and signal.args[0] == KSTARS_SERVICE and not signal.args[2]:
                        raise BackendError("KStars quit or crashed while the EKOS scheduler was running")
                    continue
                key = signal.key
                if key == "Scheduler.newStatus":
                    state = SchedulerState(signal.args[0])
                    if state is SchedulerState.IDLE and running:
                        return
                    if state is SchedulerState.ABORTED:
                        raise BackendError("the EKOS scheduler aborted: " + " | ".join(list(self.scheduler_log)[-4:]))
                    running = True
                elif key == "Scheduler.newLog":
                    self.scheduler_log.append(str(signal.args[0]))
                    log.info("EKOS: %s", signal.args[0])
                    target = names.in_log(str(signal.args[0])) or target
                elif key == "Mount.newStatus" and signal.args[0] == MountStatus.SLEWING:
                    context.progress("slewing", target, None)
                elif key == "Mount.newParkStatus":
                    self._last_park = _park_status(signal.args[0])
                elif key == "Capture.newStatus" and signal.args[0] == CAPTURE_CAPTURING:
                    target = names.of_capture(api.capture_target()) or target
                    exposing = (target, api.capture_filter() or None, sum(context.rows_done.values()))
                    if exposing != last_exposing:  # EKOS reports "capturing" more than once a frame
                        last_exposing = exposing
                        context.progress("exposing", exposing[0], exposing[1])
                elif key == "Capture.captureComplete" and isinstance(signal.args[0], dict):
                    self._take(context, str(signal.args[0].get("filename", "")), left)
                elif key == "Capture.newSequenceImage":
                    self._take(context, str(signal.args[0]), left)
            now = time.monotonic()
            if now >= next_ping:
                next_ping = now + PING_EVERY_S
                state = api.scheduler_status()  # raises DBusFailure when KStars hangs or is gone
                if state is SchedulerState.IDLE and running:
                    return
                if state is not SchedulerState.IDLE:
                    running = True
                elif now - started_at > START_GRACE_S:
                    raise BackendError("the EKOS scheduler did not start: " + " | ".join(api.scheduler_log(4)))
            if now > deadline:
                self._stop_ekos(api)
                raise BackendError(f"the EKOS scheduler was still running after {self.cfg.max_job_hours:g} h")

    def _take(self, context: JobContext, path: str, left: dict[str, int]) -> None:
        """One capture file into the spool, counted against its row (once per file)."""
        if not path or path in context.picked:
            return
        source = Path(path)
        try:
            data = source.read_bytes()
        except OSError as exc:
            log.error("EKOS reported %s but it cannot be read: %s", path, exc)
            return
        key, captured_at = None, datetime.fromtimestamp(source.stat().st_mtime, timezone.utc)
        try:
            header = fits.getheader(io.BytesIO(data))
            key = match_row(context.job, left, self._options(source.parent), header)
            captured_at = _date_obs(header) or captured_at
        except Exception as exc:  # never lose a frame: the master's ingest says what is wrong with it
            log.warning("EKOS frame %s has no readable FITS header (%s); spooled uncounted", path, exc)
        if key is None:
            log.warning("EKOS frame %s matches no row still to take; spooled uncounted", path)
        else:
            left[key] -= 1
        context.deliver(CapturedFrame(data, source.name, captured_at), key, path)
        context.picked.add(path)

    def _collect(self, context: JobContext, folder: Path, left: dict[str, int]) -> None:
        """Capture files under ``folder`` not yet in the spool (signals missed, node restarted)."""
        if not folder.exists():
            return
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in (".fits", ".fit", ".fts") and path.is_file() and str(path) not in context.picked:
                if time.time() - path.stat().st_mtime < 2.0:
                    time.sleep(2.0)  # EKOS may still be writing it
                self._take(context, str(path), left)

    def _stop_running_scheduler(self, api: EkosApi) -> None:
        try:
            if api.scheduler_status() is SchedulerState.IDLE:
                return
            log.warning("the EKOS scheduler is still running a schedule from before: stopping it")
            self._stop_ekos(api)
            deadline = time.monotonic() + 30
            while api.scheduler_status() not in (SchedulerState.IDLE, SchedulerState.ABORTED):
                if time.monotonic() > deadline:
                    raise BackendError("the EKOS scheduler does not stop the previous schedule")
                time.sleep(0.5)
        except DBusFailure as exc:
            raise BackendError(self._diagnose(api, exc)) from None

    def _check_abort(self, api: EkosApi | None = None) -> None:
        if self._abort.is_set():
            if api is not None:
                self._stop_ekos(api)
            raise ExposureAborted("aborted")

    def _stop_ekos(self, api: EkosApi) -> None:
        for step in (api.stop_scheduler, api.abort_capture):
            try:
                step()
            except DBusFailure as exc:
                log.error("stopping EKOS: %s", exc)

    def _diagnose(self, api: EkosApi, exc: DBusFailure) -> str:
        try:
            if not api.bus.has_owner():
                return f"KStars is gone (crashed or quit): {exc}"
        except DBusFailure:
            return f"the D-Bus session bus is gone: {exc}"
        return f"KStars does not answer over D-Bus (hung?): {exc}"

    # --- control ---------------------------------------------------------------------
    def abort(self) -> None:
        self._abort.set()
        with self._lock:
            bus = self._bus
        if bus is not None and bus.alive:
            self._stop_ekos(EkosApi(bus))

    def park(self) -> None:
        try:
            if self.is_parked():
                return
        except BackendError:
            pass
        self.connect()
        api = self._api()
        try:
            if not api.park():
                raise BackendError("Ekos refused to park the mount: " + " | ".join(api.ekos_log(3)))
            deadline = time.monotonic() + self.cfg.park_timeout_s
            while time.monotonic() < deadline:
                status = api.park_status()
                self._last_park = status
                if status is ParkStatus.PARKED:
                    return
                if status is ParkStatus.ERROR:
                    raise BackendError("the mount reports a park error")
                time.sleep(1.0)
        except DBusFailure as exc:
            raise BackendError(f"parking through Ekos: {self._diagnose(api, exc)}") from None
        raise BackendError(f"the mount did not park within {self.cfg.park_timeout_s:g} s")

    def is_parked(self) -> bool:
        """The mount's park state as Ekos reads it; never starts KStars."""
        api = self._api()
        try:
            status = api.park_status(timeout_s=min(3.0, self.cfg.call_timeout_s))
            if status is ParkStatus.UNKNOWN and self._last_park is ParkStatus.PARKED \
                    and api.indi_status() is not CommunicationStatus.SUCCESS:
                # Ekos disconnected the devices after parking (its "stop Ekos after shutdown"):
                # a mount Ekos no longer drives stays where Ekos parked it.
                return True
        except DBusFailure as exc:
            raise BackendError(f"park state unknown: {exc}") from None
        self._last_park = status
        if status is ParkStatus.PARKED:
            return True
        if status in (ParkStatus.UNPARKED, ParkStatus.PARKING, ParkStatus.UNPARKING):
            return False
        raise BackendError(f"park state unknown (Ekos says {status.name})")

    def close(self) -> None:
        self.abort()
        self.launcher.stop()
        with self._lock:
            if self._bus is not None:
                self._bus.close()
                self._bus = None


class _TargetNames:
    """The job's own target names back from what EKOS shows: its log quotes job names,
    its capture module has the name with spaces turned into underscores."""

    def __init__(self, job):
        self.names = [t.name for t in job.targets]
        self.by_capture = {re.sub(r"[^A-Za-z0-9]", "_", n): n for n in self.names}

    def in_log(self, line: str) -> str | None:
        for quoted in re.findall(r"'([^']+)'", line):
            if quoted in self.names:
                return quoted
        return None

    def of_capture(self, name: str) -> str | None:
        if name in self.names:
            return name
        return self.by_capture.get(re.sub(r"[^A-Za-z0-9]", "_", name or ""))


def _park_status(value) -> ParkStatus | None:
    try:
        return ParkStatus(value)
    except ValueError:
        return None


def _next_run_dir(job_dir: Path) -> Path:
    n = 1
    while (job_dir / f"run-{n}").exists():
        n += 1
    path = job_dir / f"run-{n}"
    path.mkdir(parents=True)
    return path


def _date_obs(header) -> datetime | None:
    value = header.get("DATE-OBS")
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
