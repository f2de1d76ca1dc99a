"""read_fits on plain, tile-compressed, gzip, truncated, corrupt and non-FITS files built here."""
from __future__ import annotations

import gc
import gzip
import io
import weakref

import numpy as np
import pytest
from astropy.io import fits

from master.fitsmeta.reader import FitsReadError, read_fits


def frame(shape=(64, 96), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(800, 60000, shape, dtype=np.uint16)


def fits_bytes(*hdus) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList(list(hdus)).writeto(buffer)
    return buffer.getvalue()


def light_header() -> fits.Header:
    header = fits.Header()
    header["IMAGETYP"] = "Light Frame"
    header["OBJECT"] = "M 42"
    header["EXPTIME"] = 30.0
    return header


@pytest.fixture
def data():
    return frame()


@pytest.mark.parametrize("name", ["light.fits", "light.fit", "light.fts", "LIGHT.FITS"])
def test_plain_fits_any_extension(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(fits_bytes(fits.PrimaryHDU(data, light_header())))
    header, pixels = read_fits(path)
    assert header["IMAGETYP"] == "Light Frame"
    assert pixels.dtype == np.uint16 and pixels.shape == data.shape
    assert np.array_equal(pixels, data)


def test_float_and_signed_data(tmp_path):
    values = np.linspace(-1, 1, 200, dtype=np.float32).reshape(10, 20)
    (tmp_path / "f.fits").write_bytes(fits_bytes(fits.PrimaryHDU(values)))
    _, pixels = read_fits(tmp_path / "f.fits")
    assert np.array_equal(pixels, values)


def test_tile_compressed_fz(tmp_path, data):
    primary = fits.PrimaryHDU(header=fits.Header([("TELESCOP", "Dobson 300")]))
    compressed = fits.CompImageHDU(data, light_header(), compression_type="RICE_1")
    path = tmp_path / "light.fits.fz"
    path.write_bytes(fits_bytes(primary, compressed))
    header, pixels = read_fits(path)
    assert np.array_equal(pixels, data)
    assert header["OBJECT"] == "M 42"
    assert header["NAXIS1"] == data.shape[1] and header["NAXIS2"] == data.shape[0]
    assert header["TELESCOP"] == "Dobson 300"      # inherited from the primary header


def test_image_in_a_plain_extension(tmp_path, data):
    path = tmp_path / "ext.fits"
    path.write_bytes(fits_bytes(fits.PrimaryHDU(header=fits.Header([("OBSERVER", "Eve")])),
                                fits.ImageHDU(data, light_header())))
    header, pixels = read_fits(path)
    assert np.array_equal(pixels, data)
    assert header["OBSERVER"] == "Eve" and header["IMAGETYP"] == "Light Frame"


@pytest.mark.parametrize("name", ["light.fits.gz", "light.fits"])
def test_gzip_detected_by_magic_bytes(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(fits_bytes(fits.PrimaryHDU(data, light_header()))))
    header, pixels = read_fits(path)
    assert header["EXPTIME"] == 30.0
    assert np.array_equal(pixels, data)


def test_colour_cube_becomes_luminance(tmp_path):
    cube = np.stack([np.full((8, 12), value, dtype=np.uint16) for value in (100, 200, 600)])
    (tmp_path / "rgb.fits").write_bytes(fits_bytes(fits.PrimaryHDU(cube)))
    header, pixels = read_fits(tmp_path / "rgb.fits")
    assert header["NAXIS"] == 3
    assert pixels.shape == (8, 12) and pixels.dtype == np.float32
    assert np.allclose(pixels, 300.0)


def test_other_cube_gives_first_plane(tmp_path):
    cube = np.stack([np.full((4, 5), value, dtype=np.int16) for value in (1, 2, 3, 4)])
    (tmp_path / "cube.fits").write_bytes(fits_bytes(fits.PrimaryHDU(cube)))
    assert np.array_equal(read_fits(tmp_path / "cube.fits")[1], cube[0])


def test_header_only_file(tmp_path):
    path = tmp_path / "wcs.fits"
    path.write_bytes(fits_bytes(fits.PrimaryHDU(header=fits.Header([("CRVAL1", 10.0), ("CRVAL2", 20.0)]))))
    header, pixels = read_fits(path)
    assert pixels is None and header["CRVAL1"] == 10.0
    with pytest.raises(FitsReadError, match="no image data"):
        read_fits(path, require_image=True)


def test_tables_only_is_not_an_image(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column("flux", "E", array=np.arange(3.0))])
    (tmp_path / "t.fits").write_bytes(fits_bytes(fits.PrimaryHDU(), table))
    assert read_fits(tmp_path / "t.fits")[1] is None


def test_truncated_data(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data))
    path = tmp_path / "cut.fits"
    path.write_bytes(raw[: len(raw) - 5000])
    with pytest.raises(FitsReadError, match="truncated") as error:
        read_fits(path)
    assert "bytes are missing" in error.value.reason


def test_truncated_header(tmp_path, data):
    path = tmp_path / "cut.fits"
    path.write_bytes(fits_bytes(fits.PrimaryHDU(data, light_header()))[:400])
    with pytest.raises(FitsReadError, match="truncated"):
        read_fits(path)


def test_missing_final_padding_is_tolerated(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data))
    unpadded = raw[: 2880 + data.nbytes]
    (tmp_path / "p.fits").write_bytes(unpadded)
    assert np.array_equal(read_fits(tmp_path / "p.fits")[1], data)


def test_trailing_junk_is_tolerated(tmp_path, data):
    (tmp_path / "j.fits").write_bytes(fits_bytes(fits.PrimaryHDU(data)) + b"\0" * 100)
    assert np.array_equal(read_fits(tmp_path / "j.fits")[1], data)


def test_truncated_gzip(tmp_path, data):
    packed = gzip.compress(fits_bytes(fits.PrimaryHDU(data)))
    (tmp_path / "cut.fits.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FitsReadError, match="truncated gzip"):
        read_fits(tmp_path / "cut.fits.gz")


def test_gzip_of_a_truncated_fits(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data))
    (tmp_path / "cut.fits.gz").write_bytes(gzip.compress(raw[:-3000]))
    with pytest.raises(FitsReadError, match="truncated file"):
        read_fits(tmp_path / "cut.fits.gz")


def test_truncated_fz(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(), fits.CompImageHDU(data))
    (tmp_path / "cut.fits.fz").write_bytes(raw[:-3500])
    with pytest.raises(FitsReadError, match="truncated"):
        read_fits(tmp_path / "cut.fits.fz")


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"hello, this is a text file\n" * 200, "does not start with a SIMPLE card"),
    (b"\x89PNG\r\n\x1a\n" + bytes(3000), "PNG"),
    (b"\xff\xd8\xff\xe0" + bytes(3000), "JPEG"),
    (b"XISF0100" + bytes(3000), "XISF"),
    (b"SIMPLE  =                    F".ljust(2880), "non-conforming"),
])
def test_not_fits(tmp_path, content, fragment):
    (tmp_path / "x.fits").write_bytes(content)
    with pytest.raises(FitsReadError, match="not a FITS file") as error:
        read_fits(tmp_path / "x.fits")
    assert fragment in error.value.reason


def test_corrupt_bitpix(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data))
    card = next(raw[i:i + 80] for i in range(0, 2880, 80) if raw[i:i + 8] == b"BITPIX  ")
    (tmp_path / "b.fits").write_bytes(raw.replace(card, b"BITPIX  =                  abc".ljust(80), 1))
    with pytest.raises(FitsReadError, match="corrupt header"):
        read_fits(tmp_path / "b.fits")


def test_missing_end_card(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data.astype(np.float32)))
    (tmp_path / "e.fits").write_bytes(raw.replace(b"END" + b" " * 77, b"ENX" + b" " * 77, 1))
    with pytest.raises(FitsReadError, match="END"):
        read_fits(tmp_path / "e.fits")


def test_missing_file(tmp_path):
    with pytest.raises(FitsReadError, match="cannot open"):
        read_fits(tmp_path / "nowhere.fits")


def test_unparsable_cards_do_not_stop_the_read(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(data, light_header()))
    card = next(raw[i:i + 80] for i in range(0, 2880, 80) if raw[i:i + 8] == b"IMAGETYP")
    path = tmp_path / "u.fits"
    path.write_bytes(raw.replace(card, b"IMAGETYP= Light Frame".ljust(80), 1))
    header, pixels = read_fits(path)
    assert np.array_equal(pixels, data)
    assert "IMAGETYP" in header


def test_corrupt_gzip(tmp_path):
    (tmp_path / "g.fits.gz").write_bytes(b"\x1f\x8b" + b"not really deflate" * 50)
    with pytest.raises(FitsReadError, match="corrupt gzip"):
        read_fits(tmp_path / "g.fits.gz")


def _primary_cards(*cards: str) -> bytes:
    block = "".join(card.ljust(80) for card in ("SIMPLE  =                    T",) + cards + ("END",))
    return block.ljust(2880).encode("ascii")


def test_impossible_bitpix(tmp_path):
    cards = _primary_cards("BITPIX  =                   12", "NAXIS   =                    0")
    (tmp_path / "b.fits").write_bytes(cards)
    with pytest.raises(FitsReadError, match="BITPIX=12"):
        read_fits(tmp_path / "b.fits")


def test_missing_axis_length(tmp_path):
    (tmp_path / "n.fits").write_bytes(_primary_cards("BITPIX  =                   16", "NAXIS   =                    2",
                                                     "NAXIS1  =                   10"))
    with pytest.raises(FitsReadError, match="NAXISn"):
        read_fits(tmp_path / "n.fits")


def test_random_groups_are_not_an_image(tmp_path):
    # Random groups (radio data): NAXIS1 = 0 and the size is GCOUNT x (PCOUNT + NAXIS2 x NAXIS3) values.
    head = _primary_cards("BITPIX  =                  -32", "NAXIS   =                    3",
                          "NAXIS1  =                    0", "NAXIS2  =                    2",
                          "NAXIS3  =                    2", "EXTEND  =                    T",
                          "GROUPS  =                    T", "PCOUNT  =                    1",
                          "GCOUNT  =                    3")
    (tmp_path / "g.fits").write_bytes(head + bytes(2880))
    header, pixels = read_fits(tmp_path / "g.fits")
    assert pixels is None and header["GCOUNT"] == 3
    (tmp_path / "short.fits").write_bytes(head + bytes(40))   # needs 4 x 3 x (1 + 4) = 60 bytes
    with pytest.raises(FitsReadError, match="truncated"):
        read_fits(tmp_path / "short.fits")


def test_errors_astropy_finds_are_fits_read_errors(tmp_path, data):
    raw = fits_bytes(fits.PrimaryHDU(), fits.CompImageHDU(data, compression_type="RICE_1"))
    (tmp_path / "c.fits.fz").write_bytes(raw.replace(b"'RICE_1  '", b"'BOGUS_1 '"))
    with pytest.raises(FitsReadError, match="BOGUS_1"):
        read_fits(tmp_path / "c.fits.fz")


@pytest.mark.parametrize("compressed", [False, True])
def test_reader_frees_pixels_without_the_garbage_collector(tmp_path, data, compressed):
    """astropy's HDU list is a reference cycle; the pixels must not stay tied to it after reading."""
    hdu = fits.CompImageHDU(data, compression_type="RICE_1") if compressed else fits.PrimaryHDU(data)
    path = tmp_path / "light.fits"
    path.write_bytes(fits_bytes(fits.PrimaryHDU(), hdu) if compressed else fits_bytes(hdu))
    gc.collect()
    gc.disable()
    try:
        _, pixels = read_fits(path)
        freed = weakref.ref(pixels.base if pixels.base is not None else pixels)
        del pixels
        assert freed() is None
    finally:
        gc.enable()
