"""SER video files: header, frames, timestamps, byte order (and the inverted LittleEndian flag)."""
from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from master.science.ser import (
    HEADER_SIZE, SerError, datetime_to_ticks, read_ser, ticks_to_datetime, write_ser,
)

START = datetime(2024, 4, 8, 18, 17, 3, 250000, tzinfo=timezone.utc)


def frames16(depth=12, n=5, h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = (2 ** depth - 1) * 0.5 * (1 + np.sin(xx / 5.0) * np.cos(yy / 7.0))
    return np.stack([np.clip(base + rng.normal(0, 20, base.shape), 0, 2**depth - 1) for _ in range(n)]).astype(
        np.uint16)


def test_ticks():
    assert datetime_to_ticks(datetime(1, 1, 1, tzinfo=timezone.utc)) == 0
    # 2000-01-01 is 630822816000000000 ticks (730119 days since 0001-01-01)
    assert datetime_to_ticks(datetime(2000, 1, 1)) == 730119 * 86400 * 10_000_000 == 630822816000000000
    assert ticks_to_datetime(datetime_to_ticks(START)) == START
    assert ticks_to_datetime(0) is None


def test_round_trip_8_bit_with_timestamps(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (7, 20, 30), dtype=np.uint8)
    stamps = [START + timedelta(milliseconds=40 * i) for i in range(7)]
    path = write_ser(tmp_path / "a.ser", frames, timestamps=stamps, observer="Me", instrument="ASI178MM",
                     telescope="Sol'Ex")
    assert path.stat().st_size == HEADER_SIZE + frames.size + 8 * 7
    ser = read_ser(path)
    np.testing.assert_array_equal(ser.frames, frames)
    assert ser.timestamps == stamps
    h = ser.header
    assert (h.width, h.height, h.frame_count, h.pixel_depth, h.color) == (30, 20, 7, 8, "MONO")
    assert (h.observer, h.instrument, h.telescope) == ("Me", "ASI178MM", "Sol'Ex")
    assert h.start_utc == START
    info = ser.info()
    assert info["frame_rate_hz"] == 25.0 and info["timestamps"] == 7
    first_two = read_ser(path, max_frames=2)
    assert first_two.frames.shape == (2, 20, 30) and first_two.timestamps == stamps


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("flag_inverted", [False, True])
@pytest.mark.parametrize("depth", [12, 16])
def test_round_trip_16_bit_any_flag(tmp_path, byteorder, flag_inverted, depth):
    frames = frames16(depth)
    flag = (1 if byteorder == "<" else 0) ^ int(flag_inverted)
    path = write_ser(tmp_path / "b.ser", frames, pixel_depth=depth, byteorder=byteorder, little_endian_flag=flag)
    raw = path.read_bytes()
    assert struct.unpack_from("<i", raw, 22)[0] == flag
    first = np.frombuffer(raw[HEADER_SIZE: HEADER_SIZE + 2], dtype=f"{byteorder}u2")[0]
    assert first == frames[0, 0, 0]
    ser = read_ser(path)  # detected from the data, whatever the flag says
    np.testing.assert_array_equal(ser.frames, frames)
    assert ser.byteorder == byteorder and ser.timestamps == []
    forced = read_ser(path, byteorder="<" if byteorder == ">" else ">")
    assert not np.array_equal(forced.frames, frames)


def test_rgb_and_errors(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    ser = read_ser(write_ser(tmp_path / "c.ser", rgb, color_id=100))
    np.testing.assert_array_equal(ser.frames, rgb)
    assert ser.header.color == "RGB"
    (tmp_path / "bad.ser").write_bytes(b"NOT-A-SER-FILE" + bytes(200))
    with pytest.raises(SerError, match="not a SER file"):
        read_ser(tmp_path / "bad.ser")
    (tmp_path / "short.ser").write_bytes(b"LUCAM")
    with pytest.raises(SerError, match="too short"):
        read_ser(tmp_path / "short.ser")
    good = (tmp_path / "c.ser").read_bytes()
    (tmp_path / "cut.ser").write_bytes(good[:-50])
    with pytest.raises(SerError, match="truncated"):
        read_ser(tmp_path / "cut.ser")
    with pytest.raises(ValueError):
        write_ser(tmp_path / "d.ser", np.zeros((2, 3, 4), np.float32))
