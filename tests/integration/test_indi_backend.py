"""The INDI backend against a private indiserver with the simulator drivers: headers at both
sensor sizes, abort from another thread, tolerances, and devices that drop or vanish."""
from __future__ import annotations

import io
import threading
import time

import pytest
from astropy.io import fits

from common.config import load_config
from node_telescope.backends import BackendError, ExposureAborted, make_backend

CAMERA, MOUNT, WHEEL = "CCD Simulator", "Telescope Simulator", "Filter Simulator"
M81 = (148.888, 69.065)


def indi_backend(indiserver, **indi):
    config = load_config("telescope", backend="indi",
                         indi={"port": indiserver.port, "park_timeout_s": 60, "connect_timeout_s": 5, **indi})
    return make_backend(config)


@pytest.fixture
def backend(indiserver):
    b = indi_backend(indiserver)
    b.connect()
    yield b
    b.close()


def exposing(backend) -> bool:
    snap = backend.client.get(CAMERA, "CCD_EXPOSURE")
    return snap is not None and snap.state == "Busy"


def test_frame_header_is_completed_at_both_sensor_sizes(backend, indiserver):
    assert (backend.mount, backend.camera, backend.wheel) == (MOUNT, CAMERA, WHEEL)
    backend.slew(*M81, "M 81")
    backend.set_filter("Green")
    assert backend.client.value(WHEEL, "FILTER_SLOT", "FILTER_SLOT_VALUE") == 2
    frame = backend.expose(0.2, frame_type="light", object_name="M 81", filter_name="Green", binning=2,
                           gain=50, offset=7)
    header = fits.getheader(io.BytesIO(frame.data))
    assert (header["OBJECT"], header["FILTER"], header["EXPTIME"], header["IMAGETYP"]) == \
        ("M 81", "Green", 0.2, "Light Frame")
    assert (header["XBINNING"], header["YBINNING"], header["NAXIS1"], header["GAIN"], header["OFFSET"]) == \
        (2, 2, 640, 50, 7)
    assert (header["RA"], header["DEC"], header["OBJCTDEC"]) == (148.888, 69.065, "+69 03 54.0")
    for card in ("SITELAT", "SITELONG", "INSTRUME", "TELESCOP", "CCD-TEMP", "DATE-OBS"):
        assert card in header, card
    assert frame.filename.startswith("M_81_Green_0.2s_")
    assert backend.last_overhead_s is not None  # timed in tests/bench/bench_indi.py, not here

    # A 4096x3072 sensor (25 MB FITS): the simulator's resolution is a setting.
    c = backend.client
    c.send_numbers(CAMERA, "SIMULATOR_SETTINGS", {"SIM_XRES": 4096, "SIM_YRES": 3072})
    try:
        c.wait_for(lambda: c.value(CAMERA, "CCD_INFO", "CCD_MAX_X") == 4096, 5, "a 4096x3072 sensor")
        big = backend.expose(0.1, frame_type="dark", object_name=None, filter_name=None)
        assert fits.getheader(io.BytesIO(big.data))["NAXIS1"] == 4096 and len(big.data) > 25_000_000
    finally:
        c.send_numbers(CAMERA, "SIMULATOR_SETTINGS", {"SIM_XRES": 1280, "SIM_YRES": 1024})
        c.wait_for(lambda: c.value(CAMERA, "CCD_INFO", "CCD_MAX_X") == 1280, 5, "the 1280x1024 sensor back")


def test_abort_from_another_thread_stops_the_camera(backend):
    backend.slew(*M81, "M 81")
    threading.Timer(1.0, lambda: backend.client.wait_for(lambda: exposing(backend), 5, "exposing")
                    and backend.abort()).start()
    t0 = time.monotonic()
    with pytest.raises(ExposureAborted):
        backend.expose(30, frame_type="light", object_name="M 81", filter_name=None)
    assert time.monotonic() - t0 < 3
    backend.client.wait_for(lambda: not exposing(backend), 5, "the camera to stop exposing")
    # The abort holds until the next park/connect: one that lands between two steps is not lost.
    with pytest.raises(ExposureAborted):
        backend.expose(1, frame_type="dark", object_name=None, filter_name=None)
    backend.connect()
    assert backend.expose(0.1, frame_type="bias", object_name=None, filter_name=None).data[:6] == b"SIMPLE"


def test_park_unpark_and_abort_a_slew(backend, indiserver):
    c = backend.client
    backend.slew(*M81, "M 81")
    c.send_switch(MOUNT, "TELESCOPE_PARK_OPTION", ["PARK_CURRENT"])  # park here: the default is 25 s away
    backend.park()
    assert backend.is_parked()
    assert indiserver.getprop(f"{MOUNT}.TELESCOPE_PARK.PARK") == {f"{MOUNT}.TELESCOPE_PARK.PARK": "On"}
    with pytest.raises(BackendError, match="the mount is parked"):
        backend.expose(1, frame_type="light", object_name="M 81", filter_name=None)
    backend.slew(148.968, 69.680, "M 82")  # unparks first
    assert not backend.is_parked()

    threading.Timer(1.0, backend.abort).start()
    t0 = time.monotonic()
    with pytest.raises(ExposureAborted, match="slew to far away"):
        backend.slew(0.0, -20.0, "far away")
    assert time.monotonic() - t0 < 3
    c.wait_for(lambda: c.get(MOUNT, "EQUATORIAL_EOD_COORD").state != "Busy", 5, "the mount to stop")
    with pytest.raises(ExposureAborted, match="before the filter change"):
        backend.set_filter("Red")
    backend.park()  # a park clears the abort
    backend.set_filter("Red")


def test_slew_outside_tolerance_fails(indiserver):
    strict = indi_backend(indiserver, slew_tolerance_arcsec=0.001)
    strict.connect()
    try:
        with pytest.raises(BackendError, match=r"stopped \d+\" from M 82 \(tolerance 0.001\"\)"):
            strict.slew(148.968, 69.680, "M 82")
    finally:
        strict.close()


def test_unknown_filter_and_missing_device_and_no_server(backend, indiserver):
    with pytest.raises(BackendError, match="'Hb' is not in the wheel; it holds 1:Red"):
        backend.set_filter("Hb")
    with pytest.raises(BackendError, match="Nope Camera.*devices on the server: CCD Simulator"):
        indi_backend(indiserver, camera="Nope Camera", connect_timeout_s=1).connect()
    from tests.servers import free_port

    with pytest.raises(BackendError, match="cannot connect to indiserver"):
        make_backend(load_config("telescope", backend="indi",
                                 indi={"port": free_port(), "connect_timeout_s": 1})).connect()


def test_a_disconnected_device_is_reconnected_and_a_vanished_one_fails_cleanly(backend, indiserver):
    indiserver.setprop(f"{CAMERA}.CONNECTION.DISCONNECT=On")
    backend.client.wait_for(lambda: not backend.client.value(CAMERA, "CONNECTION", "CONNECT"), 5, "camera off")
    frame = backend.expose(0.1, frame_type="dark", object_name=None, filter_name=None)
    assert frame.data[:6] == b"SIMPLE"
    # The camera drops in the middle of an exposure: reconnected, the exposure is taken again.
    threading.Timer(0.5, lambda: indiserver.setprop(f"{CAMERA}.CONNECTION.DISCONNECT=On")).start()
    t0 = time.monotonic()
    frame = backend.expose(1.5, frame_type="dark", object_name=None, filter_name=None)
    assert frame.data[:6] == b"SIMPLE" and time.monotonic() - t0 > 2
    indiserver.stop_driver("indi_simulator_wheel")
    try:
        backend.client.wait_for(lambda: WHEEL not in backend.client.devices, 5, "the wheel to vanish")
        t0 = time.monotonic()
        with pytest.raises(BackendError, match="'Filter Simulator' is gone from the server"):
            backend.set_filter("Blue")
        assert time.monotonic() - t0 < 10
    finally:
        indiserver.start_driver("indi_simulator_wheel")
    backend.client.wait_for(lambda: (WHEEL, "CONNECTION") in backend.client.props, 10, "the wheel back")
    backend.set_filter("Blue")  # the driver came back: connected again once
    assert backend.client.value(WHEEL, "FILTER_SLOT", "FILTER_SLOT_VALUE") == 3

    indiserver.restart()  # the whole server goes away and comes back on the same port
    backend.client.wait_for(lambda: not backend.client.connected, 5, "the client to notice")
    assert backend.expose(0.1, frame_type="dark", object_name=None, filter_name=None).data[:6] == b"SIMPLE"
    indiserver.kill()
    with pytest.raises(BackendError, match="lost the INDI server|cannot connect to indiserver"):
        backend.expose(0.1, frame_type="dark", object_name=None, filter_name=None)
    indiserver.start()


def test_connect_moves_focuser_sets_cooler_and_writes_site(indiserver):
    b = indi_backend(indiserver, focus_position=42000, cooler=True, cooler_setpoint_c=-5,
                     site_from_mount=False, site_latitude_deg=-31.25, site_longitude_deg=-70.5, site_elevation_m=2400)
    b.connect()
    try:
        c = b.client
        assert b.focuser == "Focuser Simulator"
        assert c.value(b.focuser, "ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION") == 42000
        geo = c.wait_for(lambda: (g := c.get(MOUNT, "GEOGRAPHIC_COORD")) and g.values["LAT"] == -31.25 and g, 5,
                         "the site on the mount")
        assert geo.values["LONG"] == pytest.approx(289.5) and geo.values["ELEV"] == 2400
        c.wait_for(lambda: c.get(CAMERA, "CCD_TEMPERATURE").state in ("Busy", "Ok"), 5, "cooling")
        header = fits.getheader(io.BytesIO(b.expose(0.1, frame_type="flat", object_name=None, filter_name="Red").data))
        assert (header["SITELAT"], header["SITELONG"], header["IMAGETYP"]) == (-31.25, -70.5, "Flat Field")
        assert "OBJECT" not in header and "OBJCTRA" not in header  # a flat has no target
    finally:
        b.close()
