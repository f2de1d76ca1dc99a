"""Pyramids of levels, their tiles, the cache that builds each one once, and the stars it measures."""
from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import master.viewer.cache as cache_module
from common.objectstore import LocalObjectStore, ObjectInfo, ObjectStore
from master.grading import detect_stars, grade_image
from master.viewer import TILE, ObjectMissing, ObjectUnreadable, Pyramid, ViewerCache
from master.viewer.pyramid import level_shapes, write_pyramid
from master.viewer.sky import celestial_wcs, radec
from tests.unit.test_grading import star_field


def fits_bytes(data: np.ndarray, header: fits.Header | None = None) -> bytes:
    buffer = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(buffer)
    return buffer.getvalue()


def tan_header(width: int, height: int) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [83.82, -5.39]
    wcs.wcs.crpix = [width / 2, height / 2]
    wcs.wcs.cdelt = [-1.2 / 3600, 1.2 / 3600]
    return wcs.to_header()


def test_levels_halve_until_one_tile_holds_the_frame():
    assert level_shapes((4176, 6248)) == [(4176, 6248), (2088, 3124), (1044, 1562), (522, 781), (261, 390),
                                          (130, 195)]
    assert level_shapes((100, 200)) == [(100, 200)]
    assert level_shapes((3, 5000)) == [(3, 5000), (1, 2500)]  # cannot halve a single row


def test_levels_are_block_means_and_tiles_are_slices(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 65535, (700, 1100), dtype=np.uint16).astype(">u2")  # FITS byte order
    write_pyramid(tmp_path / "p", data, tan_header(1100, 700))
    pyramid = Pyramid(tmp_path / "p")
    assert pyramid.meta["levels"] == [[1100, 700], [550, 350], [275, 175], [137, 87]]
    assert pyramid.level(0).dtype == np.dtype("uint16") and pyramid.level(0).dtype.isnative
    expected = data.astype(np.float64).reshape(350, 2, 550, 2).mean(axis=(1, 3))
    assert np.allclose(pyramid.level(1), expected, atol=1e-2)
    expected2 = expected[:174].reshape(87, 2, 275, 2).mean(axis=(1, 3))  # 175 rows: the odd one is dropped
    assert np.allclose(pyramid.level(2)[:87], expected2, atol=1e-2)

    assert np.array_equal(pyramid.tile(0, 1, 2), data[2 * TILE:3 * TILE, TILE:2 * TILE])
    assert pyramid.tile_counts(0) == (5, 3)
    assert pyramid.tile(0, 4, 2).shape == (700 - 2 * TILE, 1100 - 4 * TILE)  # the corner tile is smaller
    assert pyramid.tile(3, 0, 0).shape == (87, 137)
    for bad in ((0, 5, 0), (0, 0, 3), (4, 0, 0), (-1, 0, 0)):
        with pytest.raises(IndexError):
            pyramid.tile(*bad)

    assert pyramid.value(1099, 699) == float(data[699, 1099])
    with pytest.raises(IndexError):
        pyramid.value(1100, 0)
    assert pyramid.header()["CTYPE1"] == "RA---TAN"
    assert pyramid.meta["wcs"] is True
    ra, dec = radec(pyramid.wcs(), 10, 20)
    sky = WCS(tan_header(1100, 700)).pixel_to_world(10, 20)
    assert (ra, dec) == pytest.approx((sky.ra.deg, sky.dec.deg), abs=1e-9)


def test_a_header_without_a_celestial_wcs_gives_none():
    assert celestial_wcs(fits.Header({"NAXIS": 2, "OBJECT": "M 42"})) is None
    assert celestial_wcs(fits.Header({"CTYPE1": "WAVE", "CTYPE2": "TIME"})) is None


def test_a_cube_other_than_three_colour_planes_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_pyramid(tmp_path / "cube", np.zeros((4, 4, 4)), fits.Header())
    with pytest.raises(ValueError):
        write_pyramid(tmp_path / "line", np.zeros(16), fits.Header())


@pytest.fixture
def store(tmp_path):
    return LocalObjectStore(tmp_path / "store")


def counting_reads(monkeypatch) -> list:
    reads = []
    real = cache_module.read_fits

    def read(path, **kwargs):
        reads.append(path)
        return real(path, **kwargs)
    monkeypatch.setattr(cache_module, "read_fits", read)
    return reads


def test_the_cache_builds_a_pyramid_once_even_for_many_threads(tmp_path, store, monkeypatch):
    store.put_bytes("frames/a.fits", fits_bytes(np.arange(600 * 500, dtype=np.float32).reshape(500, 600)))
    reads = counting_reads(monkeypatch)
    caches = [ViewerCache(tmp_path / "cache", store) for _ in range(4)]  # as if four gunicorn workers
    results, errors = [], []

    def view(cache):
        try:
            results.append(cache.pyramid("frames/a.fits"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=view, args=(caches[n % 4],)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 12
    assert len(reads) == 1
    assert {r.directory for r in results} == {results[0].directory}
    assert results[0].value(5, 1) == 605.0
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == [results[0].directory.name]


def test_a_replaced_object_gets_a_new_pyramid(tmp_path, store, monkeypatch):
    monkeypatch.setattr(cache_module, "STAT_TTL_S", 0.0)
    cache = ViewerCache(tmp_path / "cache", store)
    store.put_bytes("masters/bias.fits", fits_bytes(np.zeros((10, 10), np.int16)))
    first = cache.pyramid("masters/bias.fits")
    store.put_bytes("masters/bias.fits", fits_bytes(np.ones((10, 10), np.int16)))  # the same size in bytes
    second = cache.pyramid("masters/bias.fits")
    assert second.directory != first.directory and second.value(0, 0) == 1.0


def test_missing_and_corrupt_objects_say_why(tmp_path, store):
    cache = ViewerCache(tmp_path / "cache", store)
    with pytest.raises(ObjectMissing) as missing:
        cache.pyramid("frames/none.fits")
    assert missing.value.status == 404 and "frames/none.fits" in missing.value.message
    store.put_bytes("frames/cut.fits", fits_bytes(np.zeros((100, 100), np.uint16))[:5000])
    with pytest.raises(ObjectUnreadable) as cut:
        cache.pyramid("frames/cut.fits")
    assert cut.value.status == 422 and cut.value.message.startswith("truncated file")
    store.put_bytes("frames/table.fits", fits_bytes(None))  # a header and no image
    with pytest.raises(ObjectUnreadable, match="no image"):
        cache.pyramid("frames/table.fits")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # nothing half-built is left


class CopyOnlyStore(ObjectStore):
    """A store without local files (like S3): the cache must fetch a temporary copy."""

    def __init__(self, objects):
        self.objects = objects

    def put_file(self, key, path, content_type=""):
        raise NotImplementedError

    def put_bytes(self, key, data, content_type=""):
        self.objects[key] = data

    def get_bytes(self, key):
        return self.objects[key]

    def get_file(self, key, path):
        Path(path).write_bytes(self.objects[key])

    def stat(self, key):
        return ObjectInfo(key, len(self.objects[key]), "v1") if key in self.objects else None

    def delete(self, key):
        self.objects.pop(key, None)

    def list(self, prefix=""):
        return iter(())


def test_a_remote_store_is_read_through_a_temporary_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)
    store = CopyOnlyStore({"stacks/m42.fits": fits_bytes(np.full((30, 40), 7.5, np.float32))})
    pyramid = ViewerCache(tmp_path / "cache", store).pyramid("stacks/m42.fits")
    assert pyramid.value(39, 29) == 7.5
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_least_recently_opened_pyramids_are_evicted(tmp_path, store):
    data = np.zeros((400, 400), np.float32)  # 640 kB at level 0
    for name in "abc":
        store.put_bytes(f"frames/{name}.fits", fits_bytes(data + ord(name)))
    cache = ViewerCache(tmp_path / "cache", store, max_bytes=2_000_000)  # two pyramids of 0.8 MB
    a = cache.pyramid("frames/a.fits")
    b = cache.pyramid("frames/b.fits")
    assert a.directory.exists() and b.directory.exists()
    c = cache.pyramid("frames/c.fits")
    assert not a.directory.exists() and b.directory.exists() and c.directory.exists()
    again = cache.pyramid("frames/a.fits")  # rebuilt on demand
    assert again.value(0, 0) == float(ord("a")) and not b.directory.exists()


def test_stars_are_those_the_grading_counts_and_are_cached(tmp_path, store, monkeypatch):
    field = star_field(shape=(768, 1024), n=60, seed=4)
    store.put_bytes("frames/field.fits", fits_bytes(field))
    cache = ViewerCache(tmp_path / "cache", store)
    pyramid = cache.pyramid("frames/field.fits")
    stars = cache.stars(pyramid)
    grade = grade_image(field)
    assert len(stars) == grade.star_count == 60
    assert [s["flux"] for s in stars] == sorted((s["flux"] for s in stars), reverse=True)
    assert np.median([s["hfr"] for s in stars]) == pytest.approx(grade.hfr_px, rel=0.1)
    x, y = int(round(stars[0]["x"])), int(round(stars[0]["y"]))
    assert field[y, x] > field.mean() + 100  # the centroid sits on a star
    monkeypatch.setattr(cache_module, "detect_stars", lambda data: pytest.fail("measured twice"))
    assert cache.stars(pyramid) == stars


def test_detect_stars_on_an_empty_sky():
    assert detect_stars(np.full((64, 64), 100, np.uint16)) == []
    noise = np.random.default_rng(2).normal(100, 5, (256, 256)).astype(np.float32)
    assert detect_stars(noise) == []
