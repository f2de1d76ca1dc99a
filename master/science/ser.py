"""SER video files (Lucam Recorder format, as written by planetary and solar capture programs).

Layout: a 178-byte little-endian header, ``FrameCount`` images, then optionally a trailer of
``FrameCount`` 64-bit UTC timestamps.

Header fields (offset, type): FileID (0, 14 bytes, "LUCAM-RECORDER"), LuID (14, int32),
ColorID (18, int32), LittleEndian (22, int32), ImageWidth (26), ImageHeight (30),
PixelDepthPerPlane (34), FrameCount (38), Observer (42, 40 bytes), Instrument (82, 40 bytes),
Telescope (122, 40 bytes), DateTime (162, int64, local time), DateTime_UTC (170, int64).
Times are .NET ticks: units of 100 ns since 0001-01-01 00:00.

The LittleEndian flag. The specification says 1 means little-endian 16-bit samples, but many
writers set it the other way round (0 for the little-endian data every x86 machine produces), and
readers followed them, so the flag alone cannot be trusted. ``read_ser`` therefore decides the byte
order of 16-bit data from the data when ``byteorder="auto"``: samples must fit in
``PixelDepthPerPlane`` bits, and otherwise the order whose image is smoother (smaller mean
difference between neighbouring pixels) wins; the flag is used only when both are equal. Pass
``byteorder="<"`` or ``">"`` to force one. ``write_ser`` writes little-endian data and, by default,
the flag as the specification defines it (1).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

__all__ = ["SerError", "SerHeader", "SerFile", "read_ser", "write_ser", "ticks_to_datetime",
           "datetime_to_ticks", "COLOR_IDS"]

FILE_ID = b"LUCAM-RECORDER"
HEADER_SIZE = 178
_HEADER = struct.Struct("<14s7i40s40s40sqq")
assert _HEADER.size == HEADER_SIZE

#: ColorID values of the specification
COLOR_IDS = {0: "MONO", 8: "BAYER_RGGB", 9: "BAYER_GRBG", 10: "BAYER_GBRG", 11: "BAYER_BGGR",
             16: "BAYER_CYYM", 17: "BAYER_YCMY", 18: "BAYER_YMCY", 19: "BAYER_MYYC", 100: "RGB", 101: "BGR"}

_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)


class SerError(Exception):
    """The file is not a usable SER video; the message says why."""


def ticks_to_datetime(ticks: int) -> datetime | None:
    """A .NET tick count (100 ns since 0001-01-01) as an aware UTC datetime; None for 0."""
    if ticks <= 0:
        return None
    return _EPOCH + timedelta(microseconds=int(ticks) // 10)


def datetime_to_ticks(when: datetime | None) -> int:
    """The .NET tick count of a datetime (naive ones are taken as UTC); 0 for None."""
    if when is None:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass
class SerHeader:
    width: int
    height: int
    pixel_depth: int
    frame_count: int
    color_id: int = 0
    little_endian_flag: int = 1
    lu_id: int = 0
    observer: str = ""
    instrument: str = ""
    telescope: str = ""
    date_time: int = 0  # local time, .NET ticks
    date_time_utc: int = 0  # .NET ticks

    @property
    def planes(self) -> int:
        return 3 if self.color_id in (100, 101) else 1

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.pixel_depth <= 8 else 2

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * self.planes * self.bytes_per_sample

    @property
    def color(self) -> str:
        return COLOR_IDS.get(self.color_id, f"UNKNOWN({self.color_id})")

    @property
    def start_utc(self) -> datetime | None:
        return ticks_to_datetime(self.date_time_utc)

    def pack(self) -> bytes:
        def text(value: str) -> bytes:
            return value.encode("latin-1", "replace")[:40].ljust(40, b"\0")

        return _HEADER.pack(FILE_ID, self.lu_id, self.color_id, self.little_endian_flag, self.width, self.height,
                            self.pixel_depth, self.frame_count, text(self.observer), text(self.instrument),
                            text(self.telescope), self.date_time, self.date_time_utc)

    @classmethod
    def unpack(cls, raw: bytes) -> "SerHeader":
        if len(raw) < HEADER_SIZE:
            raise SerError(f"file too short for a SER header ({len(raw)} of {HEADER_SIZE} bytes)")
        (file_id, lu_id, color_id, le_flag, width, height, depth, count, observer, instrument, telescope,
         date_time, date_time_utc) = _HEADER.unpack(raw[:HEADER_SIZE])
        if not file_id.startswith(b"LUCAM-RECORDER"):
            raise SerError(f"not a SER file (FileID {file_id!r})")
        if width <= 0 or height <= 0 or count < 0:
            raise SerError(f"bad image size {width}x{height} or frame count {count}")
        if not 1 <= depth <= 16:
            raise SerError(f"unsupported PixelDepthPerPlane {depth}")

        def text(value: bytes) -> str:
            return value.split(b"\0", 1)[0].decode("latin-1").strip()

        return cls(width, height, depth, count, color_id, le_flag, lu_id, text(observer), text(instrument),
                   text(telescope), date_time, date_time_utc)


@dataclass
class SerFile:
    """A SER video read into memory: ``frames`` is (N, H, W) or (N, H, W, 3) for RGB/BGR."""

    header: SerHeader
    frames: np.ndarray
    timestamps: list[datetime | None] = field(default_factory=list)  # every frame's; empty without a trailer
    byteorder: str = "<"  # byte order used for 16-bit data

    def info(self) -> dict:
        h = self.header
        times = [t for t in self.timestamps if t is not None]
        out = {
            "width": h.width, "height": h.height, "frames": h.frame_count, "pixel_depth": h.pixel_depth,
            "color": h.color, "little_endian_flag": h.little_endian_flag,
            "byteorder": "little" if self.byteorder == "<" else "big",
            "observer": h.observer, "instrument": h.instrument, "telescope": h.telescope,
            "start_utc": h.start_utc.isoformat() if h.start_utc else None,
            "timestamps": len(times),
        }
        if len(times) >= 2:
            span = (times[-1] - times[0]).total_seconds()
            out["first_frame_utc"] = times[0].isoformat()
            out["last_frame_utc"] = times[-1].isoformat()
            out["frame_rate_hz"] = round((len(times) - 1) / span, 4) if span > 0 else None
        return out


def _smoothness(sample: np.ndarray) -> float:
    s = sample.astype(np.float64)
    return float(np.mean(np.abs(np.diff(s, axis=-1)))) if s.shape[-1] > 1 else 0.0


def _guess_byteorder(raw: np.ndarray, header: SerHeader) -> str:
    """Byte order of 16-bit samples (see the module docstring)."""
    little = raw.view("<u2")
    big = raw.view(">u2")
    if header.pixel_depth < 16:
        limit = 1 << header.pixel_depth
        fits_little, fits_big = bool(little.max() < limit), bool(big.max() < limit)
        if fits_little != fits_big:
            return "<" if fits_little else ">"
    s_little, s_big = _smoothness(little), _smoothness(big)
    if s_little < s_big:
        return "<"
    if s_big < s_little:
        return ">"
    return "<" if header.little_endian_flag == 1 else ">"


def read_ser(path: str | os.PathLike, *, byteorder: str = "auto", max_frames: int | None = None) -> SerFile:
    """Read a SER file (all frames, or the first ``max_frames``) and its timestamp trailer."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header = SerHeader.unpack(handle.read(HEADER_SIZE))
            n = header.frame_count if max_frames is None else min(header.frame_count, max_frames)
            if HEADER_SIZE + header.frame_count * header.frame_bytes > size:
                raise SerError(f"file truncated: {header.frame_count} frames of {header.frame_bytes} bytes "
                               f"do not fit in {size} bytes")
            # read straight into the array: read() then a copy would hold the video twice
            raw = np.empty(n * header.frame_bytes, dtype=np.uint8)
            if handle.readinto(memoryview(raw)) != raw.size:
                raise SerError(f"file truncated while reading {n} frames")
            handle.seek(HEADER_SIZE + header.frame_count * header.frame_bytes)
            trailer = handle.read(8 * header.frame_count)
    except OSError as exc:
        raise SerError(f"cannot read {path}: {exc.strerror or exc}") from exc
    shape = (n, header.height, header.width) + ((3,) if header.planes == 3 else ())
    order = "<"
    if header.bytes_per_sample == 1:
        frames = raw.reshape(shape)
    else:
        order = byteorder if byteorder in ("<", ">") else _guess_byteorder(raw[: header.frame_bytes * min(n, 4)],
                                                                         header)
        frames = raw.view(f"{order}u2").reshape(shape).astype(np.uint16, copy=False)
    timestamps: list[datetime | None] = []
    if len(trailer) == 8 * header.frame_count and header.frame_count:
        ticks = np.frombuffer(trailer, dtype="<u8")
        timestamps = [ticks_to_datetime(int(t)) for t in ticks]  # all of them, even with max_frames
    return SerFile(header, frames, timestamps, order)


def write_ser(path: str | os.PathLike, frames: np.ndarray, *, pixel_depth: int | None = None, color_id: int = 0,
              timestamps: list[datetime] | None = None, start_utc: datetime | None = None,
              observer: str = "", instrument: str = "", telescope: str = "", byteorder: str = "<",
              little_endian_flag: int | None = None) -> Path:
    """Write frames (N, H, W) of uint8 or uint16 (or (N, H, W, 3) with color_id 100/101) as a SER file.

    ``little_endian_flag`` defaults to the specification's meaning of ``byteorder`` (1 for little);
    give the other value to produce a file like the writers that invert it.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise ValueError("frames must be (N, H, W) or (N, H, W, 3)")
    if frames.dtype not in (np.uint8, np.uint16):
        raise ValueError("frames must be uint8 or uint16")
    if timestamps is not None and len(timestamps) != len(frames):
        raise ValueError("one timestamp per frame is needed")
    depth = pixel_depth or (8 if frames.dtype == np.uint8 else 16)
    if start_utc is None and timestamps:
        start_utc = timestamps[0]
    flag = (1 if byteorder == "<" else 0) if little_endian_flag is None else int(little_endian_flag)
    header = SerHeader(width=frames.shape[2], height=frames.shape[1], pixel_depth=depth, frame_count=len(frames),
                       color_id=color_id if frames.ndim == 3 or color_id in (100, 101) else 100,
                       little_endian_flag=flag, observer=observer, instrument=instrument, telescope=telescope,
                       date_time=datetime_to_ticks(start_utc), date_time_utc=datetime_to_ticks(start_utc))
    path = Path(path)
    with open(path, "wb") as handle:
        handle.write(header.pack())
        data = frames if frames.dtype == np.uint8 else frames.astype(f"{byteorder}u2")
        handle.write(np.ascontiguousarray(data).tobytes())
        if timestamps is not None:
            handle.write(np.array([datetime_to_ticks(t) for t in timestamps], dtype="<u8").tobytes())
    return path
