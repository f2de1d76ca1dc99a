"""The INDI backend: OBSY's own sequencer driving a mount, camera, filter wheel and focuser
through an indiserver (pyindi-client).

Every wait goes through ``IndiClient.wait_for`` with a timeout from ``[indi]`` in the config and
raises ``BackendError`` naming the device and what it did not do. ``abort()`` (any thread) stops a
slew or an exposure, which then raises ``ExposureAborted``; the flag stays set until the next
``park()`` or ``connect()``, so an abort that arrives between two steps is not lost. A device (or
the server) that drops is reconnected once per operation; if that fails the operation raises
``BackendError`` and the job fails cleanly.
"""
from __future__ import annotations

import atexit
import functools
import importlib
import logging
import threading
import time
from datetime import datetime, timezone

from .base import BackendError, CapturedFrame, ExposureAborted, ImagingBackend
from .indi_client import ALERT, BUSY, OK, IndiClient
from .indi_helpers import (FRAME_TYPES, complete_header, frame_type_element, j2000_to_jnow, separation_arcsec,
                           sexagesimal, slot_for)

log = logging.getLogger(__name__)

# DRIVER_INTERFACE bits (INDI BaseDevice)
TELESCOPE_INTERFACE, CCD_INTERFACE, FOCUSER_INTERFACE, FILTER_INTERFACE = 1, 2, 8, 16


class DeviceLost(BackendError):
    """The server or a device dropped during an operation (the operation is tried once more)."""


def _retried_once(method):
    """Run an operation again, once, after the server or a device dropped during it: the second
    run starts with ``_ensure``, which reconnects. A second loss is the job's end (BackendError)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DeviceLost as exc:
            log.warning("%s during %s; reconnecting and trying once more", exc, method.__name__)
            return method(self, *args, **kwargs)
    return run


class IndiBackend(ImagingBackend):
    name = "indi"

    def __init__(self, config):
        self.config = config.indi
        self.client: IndiClient | None = None
        self.mount = self.camera = self.wheel = self.focuser = ""
        self.filter_name: str | None = None
        self.target: tuple[str, float, float] | None = None  # name, J2000 RA, Dec (degrees)
        self.last_overhead_s: float | None = None  # BLOB received -> CapturedFrame ready
        self._abort = threading.Event()
        self._lock = threading.RLock()  # one connect/reconnect at a time

    # --- connection --------------------------------------------------------------
    def connect(self) -> None:
        importlib.import_module("astropy.io.fits")  # now, not on the first frame (costs 0.4 s)

        with self._lock:
            self._abort.clear()
            if self.client is not None:
                self.client.close()
            cfg = self.config
            client = IndiClient(cfg.host, cfg.port)
            client.open(cfg.connect_timeout_s)
            self.client = client
            # pyindi-client's listener is a C++ thread: join it before the interpreter goes away.
            atexit.register(client.close)
            try:
                self._find_devices()
                for device in self._devices():
                    self._connect_device(device)
                self._setup()
            except BackendError:
                client.close()
                self.client = None
                raise
            log.info("INDI %s:%d: mount %r, camera %r, wheel %r, focuser %r", cfg.host, cfg.port, self.mount,
                     self.camera, self.wheel or None, self.focuser or None)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _devices(self) -> list[str]:
        return [d for d in dict.fromkeys((self.mount, self.camera, self.wheel, self.focuser)) if d]

    def _find_devices(self) -> None:
        cfg, c = self.config, self.client

        def pick(configured: str, bit: int) -> str:
            if configured:
                return configured if (configured, "CONNECTION") in c.props else ""
            ready = [d for d in sorted(c.devices) if c.interfaces.get(d, 0) & bit]
            return ready[0] if ready else ""

        def resolved():
            self.mount = pick(cfg.mount, TELESCOPE_INTERFACE)
            self.camera = pick(cfg.camera, CCD_INTERFACE)
            return self.mount and self.camera

        what = (f"the mount {cfg.mount or '(first telescope)'} and camera {cfg.camera or '(first CCD)'} "
                f"on {cfg.host}:{cfg.port}")
        try:
            c.wait_for(resolved, cfg.connect_timeout_s, what)
        except BackendError as exc:
            raise BackendError(f"{exc}; devices on the server: {', '.join(sorted(c.devices)) or 'none'}") from None
        if not (cfg.wheel and (cfg.focuser or cfg.focus_position < 0)):
            self._settle(c)
        if cfg.wheel:
            self.wheel = self._need_named(cfg.wheel)
        else:  # a dedicated wheel first, the camera's built-in one last
            wheels = [d for d in sorted(c.devices) if c.interfaces.get(d, 0) & FILTER_INTERFACE]
            wheels.sort(key=lambda d: bool(c.interfaces.get(d, 0) & CCD_INTERFACE))
            self.wheel = wheels[0] if wheels else ""
        if cfg.focus_position >= 0:
            if cfg.focuser:
                self.focuser = self._need_named(cfg.focuser)
            else:
                focusers = [d for d in sorted(c.devices) if c.interfaces.get(d, 0) & FOCUSER_INTERFACE
                            and not c.interfaces.get(d, 0) & CCD_INTERFACE]
                if not focusers:
                    raise BackendError("indi.focus_position is set but the server has no focuser")
                self.focuser = focusers[0]

    @staticmethod
    def _settle(c: IndiClient, quiet_s: float = 0.3, most_s: float = 3.0) -> None:
        """Wait until no device has appeared for ``quiet_s``: INDI has no end-of-getProperties
        marker, and auto-detecting the optional devices needs every driver's DRIVER_INFO."""
        end = time.monotonic() + most_s
        last, since = None, time.monotonic()
        while time.monotonic() < end:
            with c.cond:
                now = (len(c.devices), len(c.interfaces))
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.05)

    def _need_named(self, name: str) -> str:
        c = self.client
        c.wait_for(lambda: (name, "CONNECTION") in c.props, self.config.connect_timeout_s,
                   f"device {name!r} on the server (it has {', '.join(sorted(c.devices)) or 'none'})")
        return name

    def _connect_device(self, device: str) -> None:
        c = self.client
        if not c.value(device, "CONNECTION", "CONNECT"):
            c.send_switch(device, "CONNECTION", ["CONNECT"])
        c.wait_for(lambda: (p := c.props.get((device, "CONNECTION"))) and p.values.get("CONNECT") and p.state == OK,
                   self.config.connect_timeout_s, f"{device} to connect (CONNECTION)")
        needs = {self.mount: ("EQUATORIAL_EOD_COORD", "TELESCOPE_PARK", "ON_COORD_SET"),
                 self.camera: ("CCD_EXPOSURE", "CCD1"), self.wheel: ("FILTER_SLOT", "FILTER_NAME"),
                 self.focuser: ("ABS_FOCUS_POSITION",)}
        wanted = set()
        for role_device, props in needs.items():
            if role_device == device:
                wanted.update(props)
        c.wait_for(lambda: all((device, p) in c.props for p in wanted), self.config.connect_timeout_s,
                   f"{device} to define {', '.join(sorted(wanted))}")

    def _setup(self) -> None:
        """Once per connection: BLOBs to us, image upload to the client, snooping, site, focus, cooler."""
        import PyIndi

        c, cfg, cam = self.client, self.config, self.camera
        c.setBLOBMode(PyIndi.B_ALSO, cam, "CCD1")
        if c.get(cam, "UPLOAD_MODE") and not c.value(cam, "UPLOAD_MODE", "UPLOAD_CLIENT"):
            c.send_switch(cam, "UPLOAD_MODE", ["UPLOAD_CLIENT"])
        if c.get(cam, "CCD_TRANSFER_FORMAT") and "FORMAT_FITS" in c.get(cam, "CCD_TRANSFER_FORMAT").values:
            c.send_switch(cam, "CCD_TRANSFER_FORMAT", ["FORMAT_FITS"])
        active = c.get(cam, "ACTIVE_DEVICES")
        if active is not None:  # the driver snoops these for its own FITS keywords
            wanted = {"ACTIVE_TELESCOPE": self.mount, "ACTIVE_FILTER": self.wheel, "ACTIVE_FOCUSER": self.focuser}
            wanted = {k: v for k, v in wanted.items() if v and k in active.values and active.values[k] != v}
            if wanted:
                c.send_texts(cam, "ACTIVE_DEVICES", wanted)
        if not cfg.site_from_mount and c.get(self.mount, "GEOGRAPHIC_COORD"):
            c.send_numbers(self.mount, "GEOGRAPHIC_COORD", {"LAT": cfg.site_latitude_deg,
                                                            "LONG": cfg.site_longitude_deg % 360.0,
                                                            "ELEV": cfg.site_elevation_m})
        if cfg.cooler and c.get(cam, "CCD_TEMPERATURE"):
            if c.get(cam, "CCD_COOLER"):
                c.send_switch(cam, "CCD_COOLER", ["COOLER_ON"])
            c.send_numbers(cam, "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": cfg.cooler_setpoint_c})
        if self.focuser:
            serial = c.send_numbers(self.focuser, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": cfg.focus_position})
            self._wait_done(self.focuser, "ABS_FOCUS_POSITION", serial, cfg.focus_timeout_s,
                            f"focuser {self.focuser} to reach {cfg.focus_position}")

    def _ensure(self, *devices: str) -> IndiClient:
        """The client, reconnected once if the server or a device dropped."""
        with self._lock:
            c = self.client
            if c is None or not c.connected:
                log.warning("INDI server %s:%d not connected; connecting", self.config.host, self.config.port)
                aborted = self._abort.is_set()
                self.connect()
                if aborted:
                    self._abort.set()
                return self.client
            for device in devices:
                if device and not (device in c.devices and c.value(device, "CONNECTION", "CONNECT")):
                    log.warning("INDI device %s dropped; reconnecting it once", device)
                    try:  # indiserver restarts a crashed driver: give it the connect timeout to come back
                        c.wait_for(lambda: (device, "CONNECTION") in c.props, self.config.connect_timeout_s,
                                   f"device {device!r} to come back")
                    except BackendError:
                        now = ", ".join(sorted(c.devices)) or "none"
                        raise BackendError(f"INDI device {device!r} is gone from the server (driver stopped or "
                                           f"crashed?); devices now: {now}") from None
                    self._connect_device(device)
            return c

    def _alive(self, *devices: str):
        """A check for predicates: raises when the server or a device dropped during a wait."""
        c = self.client

        def check():
            if not c.connected:
                raise DeviceLost(f"lost the INDI server {self.config.host}:{self.config.port}")
            for device in devices:
                connection = c.props.get((device, "CONNECTION"))
                if connection is None or not connection.values.get("CONNECT"):
                    raise DeviceLost(f"INDI device {device!r} disconnected")
        return check

    def _wait_done(self, device: str, prop: str, serial: int, timeout: float, what: str, *,
                   abortable: bool = False, extra=None):
        """Wait for an answer to a command: the property updated after ``serial`` and Ok (and
        ``extra(snapshot)`` true); Alert is a refusal."""
        c, alive = self.client, self._alive(device)

        def done():
            alive()
            snap = c.newer(device, prop, serial)
            if snap is None:
                return None
            if snap.state == ALERT:
                raise BackendError(f"{device} refused or failed: {what} ({prop} is Alert; "
                                   f"last messages: {' | '.join(list(c.messages)[-3:])})")
            if snap.state == OK and (extra is None or extra(snap)):
                return snap
            return None
        return c.wait_for(done, timeout, what, abort=self._abort if abortable else None,
                          on_abort=lambda: ExposureAborted(f"aborted while waiting for {what}"))

    # --- mount -------------------------------------------------------------------
    def is_parked(self) -> bool:
        c = self._ensure(self.mount)
        parked = c.value(self.mount, "TELESCOPE_PARK", "PARK")
        if parked is None:
            raise BackendError(f"mount {self.mount!r} reports no TELESCOPE_PARK")
        return bool(parked) and c.get(self.mount, "TELESCOPE_PARK").state != BUSY

    @_retried_once
    def park(self) -> None:
        self._abort.clear()
        c = self._ensure(self.mount)
        snap = c.get(self.mount, "TELESCOPE_PARK")
        if snap is None:
            raise BackendError(f"mount {self.mount!r} cannot park (no TELESCOPE_PARK)")
        if snap.values.get("PARK") and snap.state == OK:
            return
        serial = c.send_switch(self.mount, "TELESCOPE_PARK", ["PARK"])
        self._wait_done(self.mount, "TELESCOPE_PARK", serial, self.config.park_timeout_s,
                        f"mount {self.mount} to park", extra=lambda s: s.values.get("PARK"))
        log.info("mount %s parked", self.mount)

    def _unpark(self, c: IndiClient) -> None:
        snap = c.get(self.mount, "TELESCOPE_PARK")
        if snap is None or not snap.values.get("PARK"):
            return
        serial = c.send_switch(self.mount, "TELESCOPE_PARK", ["UNPARK"])
        self._wait_done(self.mount, "TELESCOPE_PARK", serial, self.config.park_timeout_s,
                        f"mount {self.mount} to unpark", abortable=True, extra=lambda s: s.values.get("UNPARK"))

    @_retried_once
    def slew(self, ra_deg, dec_deg, target):
        self._check_abort("slew")
        c = self._ensure(self.mount, self.camera)
        self._unpark(c)
        track = c.get(self.mount, "TELESCOPE_TRACK_STATE")
        if track is not None and not track.values.get("TRACK_ON"):
            # A mount that is not tracking yet lands late by the sidereal drift of the slew.
            c.send_switch(self.mount, "TELESCOPE_TRACK_STATE", ["TRACK_ON"])
        if c.get(self.mount, "ON_COORD_SET") and not c.value(self.mount, "ON_COORD_SET", "TRACK"):
            c.send_switch(self.mount, "ON_COORD_SET", ["TRACK"])
        tolerance = self.config.slew_tolerance_arcsec
        deadline = time.monotonic() + self.config.slew_timeout_s
        for attempt in (1, 2):  # a second, short slew corrects a landing outside the tolerance
            ra_now, dec_now = j2000_to_jnow(ra_deg, dec_deg)
            serial = c.send_numbers(self.mount, "EQUATORIAL_EOD_COORD", {"RA": ra_now / 15.0, "DEC": dec_now})
            what = f"mount {self.mount} to slew to {target} and track"
            try:
                left = max(1.0, deadline - time.monotonic())
                snap = self._wait_done(self.mount, "EQUATORIAL_EOD_COORD", serial, left, what, abortable=True)
            except ExposureAborted:
                self._stop_mount(c)
                raise
            off = separation_arcsec(snap.values["RA"] * 15.0, snap.values["DEC"], ra_now, dec_now)
            if off <= tolerance:
                break
            log.warning("mount %s landed %.0f\" from %s (attempt %d)", self.mount, off, target, attempt)
        else:
            raise BackendError(f"mount {self.mount} stopped {off:.0f}\" from {target} (tolerance {tolerance:g}\")")
        self.target = (target, ra_deg, dec_deg)
        if c.get(self.camera, "FITS_HEADER"):
            c.send_texts(self.camera, "FITS_HEADER", {"FITS_OBJECT": target})

    def _stop_mount(self, c: IndiClient) -> None:
        try:
            if c.get(self.mount, "TELESCOPE_ABORT_MOTION"):
                c.send_switch(self.mount, "TELESCOPE_ABORT_MOTION", ["ABORT"])
        except BackendError as exc:
            log.warning("could not stop the mount: %s", exc)

    # --- filter wheel -------------------------------------------------------------
    @_retried_once
    def set_filter(self, filter_name):
        if filter_name is None:
            self.filter_name = None
            return
        self._check_abort("filter change")
        if not self.wheel:
            raise BackendError(f"filter {filter_name!r} asked for, but the server has no filter wheel")
        c = self._ensure(self.wheel)
        slot = slot_for(filter_name, c.get(self.wheel, "FILTER_NAME").values, self.config.alias_map())
        if c.value(self.wheel, "FILTER_SLOT", "FILTER_SLOT_VALUE") != slot or \
                c.get(self.wheel, "FILTER_SLOT").state != OK:
            serial = c.send_numbers(self.wheel, "FILTER_SLOT", {"FILTER_SLOT_VALUE": slot})
            self._wait_done(self.wheel, "FILTER_SLOT", serial, self.config.filter_timeout_s,
                            f"wheel {self.wheel} to move to {filter_name} (slot {slot})", abortable=True,
                            extra=lambda s: round(s.values.get("FILTER_SLOT_VALUE", -1)) == slot)
        self.filter_name = filter_name

    # --- camera -------------------------------------------------------------------
    def _check_abort(self, what: str) -> None:
        if self._abort.is_set():
            raise ExposureAborted(f"aborted before the {what}")

    def _set_number_if(self, c: IndiClient, prop: str, element: str, value: float, timeout: float) -> bool:
        snap = c.get(self.camera, prop)
        if snap is None or element not in snap.values:
            return False
        if snap.values[element] != value:
            serial = c.send_numbers(self.camera, prop, {element: value})
            self._wait_done(self.camera, prop, serial, timeout, f"{self.camera} to set {prop}.{element}={value:g}")
        return True

    def _camera_settings(self, c: IndiClient, frame_type: str, binning: int, gain, offset) -> None:
        cam, timeout = self.camera, self.config.connect_timeout_s
        element = frame_type_element(frame_type)
        if c.get(cam, "CCD_FRAME_TYPE") and not c.value(cam, "CCD_FRAME_TYPE", element):
            serial = c.send_switch(cam, "CCD_FRAME_TYPE", [element])
            self._wait_done(cam, "CCD_FRAME_TYPE", serial, timeout, f"{cam} to take {frame_type} frames")
        binning_snap = c.get(cam, "CCD_BINNING")
        if binning_snap is None:
            if binning != 1:
                raise BackendError(f"camera {cam} cannot bin (no CCD_BINNING); asked for {binning}x{binning}")
        elif binning_snap.values.get("HOR_BIN") != binning or binning_snap.values.get("VER_BIN") != binning:
            serial = c.send_numbers(cam, "CCD_BINNING", {"HOR_BIN": binning, "VER_BIN": binning})
            self._wait_done(cam, "CCD_BINNING", serial, timeout, f"{cam} to bin {binning}x{binning}")
        for value, props, label in ((gain, (("CCD_GAIN", "GAIN"), ("CCD_CONTROLS", "Gain")), "gain"),
                                    (offset, (("CCD_OFFSET", "OFFSET"), ("CCD_CONTROLS", "Offset")), "offset")):
            if value is None:
                continue
            if not any(self._set_number_if(c, prop, element, float(value), timeout) for prop, element in props):
                log.warning("camera %s has no %s control; %s=%g ignored", cam, label, label, value)

    @_retried_once
    def expose(self, exposure_s, *, frame_type, object_name, filter_name, binning=1, gain=None, offset=None):
        self._check_abort("exposure")
        cam = self.camera
        c = self._ensure(cam)
        if frame_type == "light" and (self.target is None or self.is_parked()):
            raise BackendError("cannot take a light frame: the mount is parked or has not slewed")
        self._camera_settings(c, frame_type, binning, gain, offset)
        if object_name and c.get(cam, "FITS_HEADER") and c.value(cam, "FITS_HEADER", "FITS_OBJECT") != object_name:
            c.send_texts(cam, "FITS_HEADER", {"FITS_OBJECT": object_name})
        with c.cond:
            stale = [b for b in c.blobs if b.device == cam]
            for blob in stale:
                c.blobs.remove(blob)
        captured_at = datetime.now(timezone.utc)
        serial = c.send_numbers(cam, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": exposure_s})
        alive = self._alive(cam)

        def image():
            alive()
            for blob in c.blobs:
                if blob.device == cam and blob.name == "CCD1":
                    c.blobs.remove(blob)
                    return blob
            snap = c.newer(cam, "CCD_EXPOSURE", serial)
            if snap is not None and snap.state == ALERT:
                raise BackendError(f"camera {cam} failed the exposure (CCD_EXPOSURE Alert; "
                                   f"last messages: {' | '.join(list(c.messages)[-3:])})")
            return None

        try:
            blob = c.wait_for(image, exposure_s + self.config.exposure_margin_s,
                              f"camera {cam} to deliver a {exposure_s:g} s image", abort=self._abort,
                              on_abort=lambda: ExposureAborted(f"exposure of {object_name or frame_type} aborted"))
        except ExposureAborted:
            self._abort_exposure(c)
            raise
        frame = self._frame(blob, exposure_s, frame_type, object_name, filter_name, captured_at)
        self.last_overhead_s = time.monotonic() - blob.received
        log.debug("frame %s: %.1f ms from BLOB to frame", frame.filename, self.last_overhead_s * 1000)
        return frame

    def _abort_exposure(self, c: IndiClient) -> None:
        try:
            if c.get(self.camera, "CCD_ABORT_EXPOSURE"):
                c.send_switch(self.camera, "CCD_ABORT_EXPOSURE", ["ABORT"])
        except BackendError as exc:
            log.warning("could not abort the exposure: %s", exc)

    def _frame(self, blob, exposure_s, frame_type, object_name, filter_name, captured_at) -> CapturedFrame:
        c, cam = self.client, self.camera
        if blob.format not in (".fits", ".fit", ".fts"):
            raise BackendError(f"camera {cam} sent a {blob.format!r} image; OBSY needs FITS (CCD_TRANSFER_FORMAT)")
        lat = c.value(self.mount, "GEOGRAPHIC_COORD", "LAT")
        lon = c.value(self.mount, "GEOGRAPHIC_COORD", "LONG")
        if lon is not None and lon > 180:
            lon -= 360.0
        target = self.target if frame_type == "light" else None
        gain = c.value(cam, "CCD_GAIN", "GAIN", c.value(cam, "CCD_CONTROLS", "Gain"))
        offset = c.value(cam, "CCD_OFFSET", "OFFSET", c.value(cam, "CCD_CONTROLS", "Offset"))
        binx = c.value(cam, "CCD_BINNING", "HOR_BIN", 1)
        biny = c.value(cam, "CCD_BINNING", "VER_BIN", 1)
        cards = {
            "OBJECT": (object_name, "target name") if object_name else None,
            "FILTER": ((filter_name or self.filter_name), "filter") if (filter_name or self.filter_name) else None,
            "EXPTIME": (float(exposure_s), "[s] exposure time"),
            "IMAGETYP": FRAME_TYPES[frame_type.lower()][1],
            "RA": (round(target[1], 6), "[deg] J2000 right ascension of the target") if target else None,
            "DEC": (round(target[2], 6), "[deg] J2000 declination of the target") if target else None,
            "OBJCTRA": (sexagesimal(target[1] / 15.0, hours=True), "J2000 RA [h m s]") if target else None,
            "OBJCTDEC": (sexagesimal(target[2], hours=False), "J2000 Dec [d m s]") if target else None,
            "EQUINOX": 2000.0 if target else None,
            "SITELAT": (lat, "[deg] site latitude") if lat is not None else None,
            "SITELONG": (lon, "[deg] site longitude, east positive") if lon is not None else None,
            "INSTRUME": (cam, "camera"),
            "TELESCOP": (self.mount, "mount"),
            "CCD-TEMP": c.value(cam, "CCD_TEMPERATURE", "CCD_TEMPERATURE_VALUE"),
            "GAIN": (gain, "camera gain") if gain is not None else None,
            "OFFSET": (offset, "camera offset") if offset is not None else None,
            "XBINNING": int(binx),
            "YBINNING": int(biny),
            "DATE-OBS": captured_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        }
        drop = ("OBJECT",) if not object_name else ()  # the driver's FITS_OBJECT may name an earlier target
        if not target:
            drop += ("RA", "DEC", "OBJCTRA", "OBJCTDEC")
        data = complete_header(blob.data, cards, keep=("CCD-TEMP", "DATE-OBS", "INSTRUME", "TELESCOP"), drop=drop)
        stamp = captured_at.strftime("%Y-%m-%dT%H-%M-%S")
        name = (object_name or frame_type).replace(" ", "_")
        return CapturedFrame(data, f"{name}_{filter_name or 'none'}_{exposure_s:g}s_{stamp}.fits", captured_at)

    def abort(self) -> None:
        self._abort.set()
        if self.client is not None:
            self.client.notify()
