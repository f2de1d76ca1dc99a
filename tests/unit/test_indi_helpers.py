"""Pure helpers of the INDI backend: filter slots, coordinates, FITS header completion."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.io import fits

from common.config import ConfigError, load_config
from node_telescope.backends import BackendError, make_backend
from node_telescope.backends.indi_helpers import (complete_header, filter_slots, frame_type_element, header_length,
                                                  j2000_to_jnow, jnow_to_j2000, separation_arcsec, sexagesimal,
                                                  slot_for)

WHEEL = {"FILTER_SLOT_NAME_1": "Red", "FILTER_SLOT_NAME_2": "Green", "FILTER_SLOT_NAME_3": "Blue",
         "FILTER_SLOT_NAME_4": "H_Alpha", "FILTER_SLOT_NAME_5": "SII", "FILTER_SLOT_NAME_6": "OIII",
         "FILTER_SLOT_NAME_7": "LPR", "FILTER_SLOT_NAME_8": "Luminance"}


def test_filter_slots_from_filter_name_elements():
    slots = filter_slots({**WHEEL, "SOMETHING_ELSE": "x", "FILTER_SLOT_NAME_X": "y"})
    assert slots["Red"] == 1 and slots["Luminance"] == 8 and len(slots) == 8


@pytest.mark.parametrize("name, slot", [("Red", 1), ("OIII", 6), ("oiii", 6), ("R", 1), ("G", 2), ("L", 8),
                                        ("Ha", 4)])
def test_slot_for_exact_case_initial_and_alias(name, slot):
    assert slot_for(name, WHEEL, {"Ha": "H_Alpha", "L": "Luminance"}) == slot


def test_slot_for_an_ambiguous_initial_or_unknown_filter_names_the_wheel():
    wheel = {"FILTER_SLOT_NAME_1": "Sloan g", "FILTER_SLOT_NAME_2": "SII", "FILTER_SLOT_NAME_3": "Sloan r"}
    with pytest.raises(BackendError, match="1:Sloan g, 2:SII, 3:Sloan r"):
        slot_for("S", wheel)
    with pytest.raises(BackendError, match="'L' is not in the wheel"):  # LPR or Luminance?
        slot_for("L", WHEEL)
    with pytest.raises(BackendError, match="'Ha' is not in the wheel"):
        slot_for("Ha", WHEEL)


def test_frame_type_elements():
    assert frame_type_element("light") == "FRAME_LIGHT"
    assert frame_type_element("Flat") == "FRAME_FLAT"
    with pytest.raises(BackendError, match="frame type 'dark_flat'"):
        frame_type_element("dark_flat")


def test_j2000_to_jnow_precesses_and_round_trips():
    when = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)
    ra, dec = j2000_to_jnow(250.42, 36.46, when)
    # 26.9 years of precession (~50"/yr in longitude) plus nutation and aberration: about 0.3 deg.
    assert 0.15 < separation_arcsec(ra, dec, 250.42, 36.46) / 3600 < 0.5
    back = jnow_to_j2000(ra, dec, when)
    assert separation_arcsec(*back, 250.42, 36.46) < 0.01
    ra0, _ = j2000_to_jnow(359.999, 10.0, when)
    assert 0 <= ra0 < 360


def test_separation_and_sexagesimal():
    assert separation_arcsec(10, 20, 10, 20) == 0
    assert separation_arcsec(0, 0, 0, 1) == pytest.approx(3600)
    assert separation_arcsec(359.9999, 0, 0.0001, 0) == pytest.approx(0.72, abs=1e-6)
    assert sexagesimal(12.5, hours=True) == "12 30 00.00"
    assert sexagesimal(-5.25, hours=False) == "-05 15 00.0"
    assert sexagesimal(36.46, hours=False) == "+36 27 36.0"
    assert sexagesimal(1.9999999999, hours=True) == "02 00 00.00"


def _fits(header_cards: dict, shape=(32, 48)) -> bytes:
    hdu = fits.PrimaryHDU(np.arange(np.prod(shape), dtype=np.uint16).reshape(shape))
    for key, value in header_cards.items():
        hdu.header[key] = value
    out = io.BytesIO()
    hdu.writeto(out)
    return out.getvalue()


def test_complete_header_adds_overwrites_keeps_and_leaves_the_data_alone():
    original = _fits({"INSTRUME": "CCD Simulator", "CCD-TEMP": -9.5, "OBJECT": "Unknown", "FILTER": "Red",
                      "OBSERVER": "Unknown"})
    cards = {"OBJECT": ("M 13", "target name"), "FILTER": "R", "EXPTIME": 30.0, "CCD-TEMP": 0.0,
             "INSTRUME": "ignored", "GAIN": None, "RA": (250.42, "[deg]"), "XBINNING": 1}
    out = complete_header(original, cards, keep=("CCD-TEMP", "INSTRUME"), drop=("OBSERVER", "ABSENT"))
    assert len(out) % 2880 == 0
    with fits.open(io.BytesIO(out)) as hdul:
        h = hdul[0].header
        assert (h["OBJECT"], h["FILTER"], h["EXPTIME"], h["RA"], h["XBINNING"]) == ("M 13", "R", 30.0, 250.42, 1)
        assert h.comments["OBJECT"] == "target name"
        assert h["CCD-TEMP"] == -9.5 and h["INSTRUME"] == "CCD Simulator" and "GAIN" not in h
        assert "OBSERVER" not in h
        with fits.open(io.BytesIO(original)) as before:
            assert np.array_equal(hdul[0].data, before[0].data)
    assert out[header_length(out):] == original[header_length(original):]


def test_complete_header_grows_the_header_by_whole_blocks():
    original = _fits({})
    cards = {f"KEY{i:04d}": i for i in range(60)}  # 60 cards do not fit in the first block
    out = complete_header(original, cards)
    assert header_length(out) == header_length(original) + 2880
    assert fits.getheader(io.BytesIO(out))["KEY0059"] == 59


def test_complete_header_refuses_what_is_not_fits():
    with pytest.raises(BackendError, match="not a FITS file"):
        complete_header(b"\x89PNG" + b"\0" * 3000, {})
    with pytest.raises(BackendError, match="no END card"):
        complete_header(b"SIMPLE  =                    T" + b" " * 50 + b" " * 2800, {})


def test_config_selects_the_indi_backend_and_checks_aliases():
    config = load_config("telescope", backend="indi", indi={"port": 7625, "filter_aliases": ["Ha=H_Alpha"]})
    assert config.indi.alias_map() == {"Ha": "H_Alpha"}
    backend = make_backend(config)
    assert backend.name == "indi" and backend.client is None
    with pytest.raises(ConfigError, match="filter_aliases entry 'Ha'"):
        load_config("telescope", backend="indi", indi={"filter_aliases": ["Ha"]})
