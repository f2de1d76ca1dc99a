"""Read one FITS frame: the header and the first 2-D image, or a clear reason why not.

Handles plain FITS (.fits/.fit/.fts), tile-compressed images (.fz, a CompImageHDU in an
extension) and gzip-compressed files, recognised by their magic bytes whatever their name.

Before astropy parses anything we walk the HDU layout ourselves (2880-byte blocks, header
cards up to END, data size from BITPIX/NAXISn/PCOUNT/GCOUNT). Astropy on its own may warn
and zero-pad a truncated file, or only fail later when the data is touched; the walk turns
both into one ``FitsReadError`` with the number of bytes that are missing.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

__all__ = ["FitsReadError", "read_fits"]

BLOCK = 2880
CARD = 80
GZIP_MAGIC = b"\x1f\x8b"

# Magic bytes of files that are often mistaken for FITS frames, to name them in the error.
_OTHER_FORMATS = (
    (b"XISF0100", "an XISF image (PixInsight)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image or camera raw file"),
    (b"MM\x00*", "a TIFF image or camera raw file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"SIMPLE  =                    F", "a FITS file that declares itself non-conforming (SIMPLE = F)"),
)

# Keywords that describe one HDU's structure; never copied from the primary header.
_STRUCTURAL = {
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "BSCALE", "BZERO",
    "BLANK", "END", "COMMENT", "HISTORY", "", "CHECKSUM", "DATASUM", "EXTNAME", "EXTVER", "INHERIT",
}


class FitsReadError(Exception):
    """The file cannot be used as a FITS frame; ``reason`` says why, for a person."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_fits(path: str | os.PathLike, *, require_image: bool = False,
              keep_colour: bool = False) -> tuple[fits.Header, np.ndarray | None]:
    """Return ``(header, data)`` for the first HDU holding a 2-D (or colour cube) image.

    ``data`` is 2-D: a colour cube (3 x H x W) becomes its luminance (mean of the planes, float32),
    any other cube its first plane; with ``keep_colour`` a colour cube is returned as it is (the viewer
    shows its colours). A valid FITS file without any image (header only, tables only)
    returns ``(primary header, None)``, or raises when ``require_image`` is true. For an image in an
    extension (.fz), the header is the extension's, completed by primary keywords it lacks.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise FitsReadError(f"cannot open the file: {exc.strerror or exc}") from exc
    with handle:
        if handle.read(2) == GZIP_MAGIC:
            raw = _gunzip(handle)
            source: BinaryIO | Path = io.BytesIO(raw)
            _check_layout(source, len(raw))
            source.seek(0)
        else:
            source = path  # astropy reads it once more, in one go, after the cheap header walk
            _check_layout(handle, os.fstat(handle.fileno()).st_size)
    return _read_with_astropy(source, require_image, keep_colour)


def _gunzip(handle: BinaryIO) -> bytes:
    handle.seek(0)
    try:
        return gzip.decompress(handle.read())
    except EOFError as exc:
        raise FitsReadError("truncated gzip file: the compressed stream ends early") from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise FitsReadError(f"corrupt gzip file: {exc}") from exc


def _check_layout(handle: BinaryIO, size: int) -> None:
    """Walk every HDU; raise on a non-FITS start, a header without END, or missing data bytes."""
    if size == 0:
        raise FitsReadError("not a FITS file: the file is empty")
    handle.seek(0)
    head = handle.read(CARD)
    if not head.startswith(b"SIMPLE  =") or head.startswith(b"SIMPLE  =                    F"):
        for magic, name in _OTHER_FORMATS:
            if head.startswith(magic):
                raise FitsReadError(f"not a FITS file: it looks like {name}")
        raise FitsReadError("not a FITS file: it does not start with a SIMPLE card")

    index, pos = 0, 0
    while pos < size:
        handle.seek(pos)
        if index and not handle.read(CARD).startswith(b"XTENSION="):
            break  # bytes after the last HDU: padding or junk some writers append; harmless
        cards = _read_header_cards(handle, pos, index)
        data_start = pos + math.ceil(len(cards) * CARD / BLOCK) * BLOCK
        data_bytes = _data_bytes(cards, index)
        if data_bytes and data_start + data_bytes > size:
            missing = data_start + data_bytes - size
            raise FitsReadError(
                f"truncated file: HDU {index} needs {data_bytes} bytes of data, "
                f"{missing} bytes are missing (file holds {size} bytes)")
        index, pos = index + 1, data_start + math.ceil(data_bytes / BLOCK) * BLOCK


def _read_header_cards(handle: BinaryIO, pos: int, index: int) -> list[bytes]:
    cards: list[bytes] = []
    handle.seek(pos)
    while True:
        block = handle.read(BLOCK)
        for offset in range(0, len(block) - CARD + 1, CARD):
            card = block[offset:offset + CARD]
            cards.append(card)
            if card[:8] == b"END     ":
                return cards  # a last header block without its padding is tolerated
        if len(block) < BLOCK:
            raise FitsReadError(f"truncated file: the header of HDU {index} ends before its END card")
        if not _is_header_text(block):
            # Binary bytes where cards should be: the END card is missing, not merely far away.
            raise FitsReadError(f"corrupt header: HDU {index} has no END card before binary data")


def _is_header_text(block: bytes) -> bool:
    return not block.translate(None, _PRINTABLE)


_PRINTABLE = bytes(range(32, 127))


def _data_bytes(cards: list[bytes], index: int) -> int:
    """Data size from the structural keywords, as the FITS standard defines it."""
    values: dict[str, int] = {}
    for card in cards:
        key = card[:8].decode("ascii", "replace").strip()
        if (key in ("BITPIX", "NAXIS", "PCOUNT", "GCOUNT") or key.startswith("NAXIS")) and card[8:10] == b"= ":
            text = card[10:].split(b"/", 1)[0].strip()
            try:
                values[key] = int(float(text))
            except ValueError:
                raise FitsReadError(f"corrupt header: HDU {index} has {key} = {text.decode('ascii', 'replace')!r}")
    bitpix, naxis = values.get("BITPIX"), values.get("NAXIS")
    if bitpix not in (8, 16, 32, 64, -32, -64) or naxis is None or not 0 <= naxis <= 999:
        raise FitsReadError(f"corrupt header: HDU {index} has BITPIX={bitpix} NAXIS={naxis}")
    if naxis == 0:
        return 0
    axes = [values.get(f"NAXIS{i}") for i in range(1, naxis + 1)]
    if any(a is None or a < 0 for a in axes):
        raise FitsReadError(f"corrupt header: HDU {index} lacks a valid NAXISn for NAXIS={naxis}")
    if index == 0 and axes[0] == 0:  # random groups: NAXIS1 = 0 and the group size follows
        count = math.prod(axes[1:])
    else:
        count = math.prod(axes)
    return abs(bitpix) // 8 * values.get("GCOUNT", 1) * (values.get("PCOUNT", 0) + count)


def _read_with_astropy(source, require_image: bool, keep_colour: bool = False) -> tuple[fits.Header, np.ndarray | None]:
    try:
        with warnings.catch_warnings():
            # Real headers are full of non-standard cards; astropy's warnings about them are noise here.
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(source, memmap=False) as hdul:
                primary = hdul[0].header
                for hdu in hdul:
                    if not _is_image(hdu):
                        continue
                    data = hdu.data  # reads (and decompresses) the pixels once
                    data = data if keep_colour and _is_colour(data) else _as_2d(data)
                    header = hdu.header if hdu is hdul[0] else _inherit(hdu.header, primary)
                    return header, data
                if require_image:
                    raise FitsReadError("no image data: no HDU holds a 2-D image")
                return primary, None
    except FitsReadError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, zlib.error) as exc:
        raise FitsReadError(f"corrupt FITS file: {exc}") from exc


def _is_image(hdu) -> bool:
    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        return False
    header = hdu.header
    naxis = header.get("NAXIS", 0)
    if not isinstance(naxis, int) or naxis < 2:
        return False
    return all(isinstance(header.get(f"NAXIS{i}"), int) and header[f"NAXIS{i}"] > 0 for i in (1, 2))


def _is_colour(data: np.ndarray) -> bool:
    return data.ndim == 3 and data.shape[0] == 3


def _as_2d(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        return data
    planes = data.reshape((-1,) + data.shape[-2:])
    if planes.shape[0] == 3:
        # An RGB cube: its luminance has the stars of every channel and the noise of none in particular.
        luminance = planes[0].astype(np.float32)
        luminance += planes[1]
        luminance += planes[2]
        luminance /= 3.0
        return luminance
    return planes[0]


def _inherit(header: fits.Header, primary: fits.Header) -> fits.Header:
    """Extension header completed by descriptive primary keywords (the INHERIT convention)."""
    merged = header.copy()
    for card in primary.cards:
        if card.keyword not in _STRUCTURAL and not card.keyword.startswith("NAXIS") and card.keyword not in merged:
            merged.append(card, end=True)
    return merged
