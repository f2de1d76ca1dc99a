import pytest

from common.objectstore import LocalObjectStore, check_key


def test_local_store_put_get_stat_list_copy_delete(tmp_path):
    store = LocalObjectStore(tmp_path / "repo")
    store.put_bytes("a/b/one.fits", b"12345")
    source = tmp_path / "f.bin"
    source.write_bytes(b"xyz")
    store.put_file("a/two.fits", source)
    assert store.get_bytes("a/b/one.fits") == b"12345"
    assert store.stat("a/two.fits").size == 3
    assert store.stat("missing") is None
    store.copy("a/two.fits", "c/three.fits")
    assert [o.key for o in store.list("a/")] == ["a/b/one.fits", "a/two.fits"]
    store.get_file("c/three.fits", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"xyz"
    store.delete("a/two.fits")
    store.delete("a/two.fits")  # deleting twice is fine
    assert store.stat("a/two.fits") is None
    with pytest.raises(KeyError):
        store.get_bytes("a/two.fits")


@pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../../b", "dir/", "a\\b"])
def test_keys_cannot_escape(key):
    with pytest.raises(ValueError):
        check_key(key)


def test_local_stat_version_changes_when_an_object_is_rewritten_at_the_same_size(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put_bytes("masters/bias.fits", b"a" * 2880)
    first = store.stat("masters/bias.fits")
    store.put_bytes("masters/bias.fits", b"b" * 2880)
    second = store.stat("masters/bias.fits")
    assert first.size == second.size and first.version is not None and first.version != second.version
