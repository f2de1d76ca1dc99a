import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from node_telescope.spool import Spool


def test_add_is_idempotent_and_remove_deletes(tmp_path):
    spool = Spool(tmp_path)
    entry = spool.add(b"frame-bytes", "a.fits")
    again = spool.add(b"frame-bytes", "a.fits")
    assert entry.sha256 == again.sha256 == hashlib.sha256(b"frame-bytes").hexdigest()
    assert len(spool) == 1
    assert spool.frame_path(entry.sha256).read_bytes() == b"frame-bytes"
    spool.mark_claimed(entry.sha256)
    assert spool.get(entry.sha256).claimed_at is not None
    assert spool.get(entry.sha256).attempts == 1
    spool.mark_unclaimed(entry.sha256)
    assert spool.get(entry.sha256).claimed_at is None
    assert spool.remove(entry.sha256) is True
    assert len(spool) == 0 and not spool.frame_path(entry.sha256).exists()


def test_recover_mends_orphans_and_drops_temp_files(tmp_path):
    spool = Spool(tmp_path)
    kept = spool.add(b"kept", "k.fits")
    # A frame whose state file never landed (crash between the two writes).
    orphan = hashlib.sha256(b"orphan").hexdigest()
    (tmp_path / "frames" / f"{orphan}.fits").write_bytes(b"orphan")
    # A state whose frame was already removed (crash during remove).
    gone = "b" * 64
    (tmp_path / "state" / f"{gone}.json").write_text(json.dumps(
        {"sha256": gone, "size": 1, "filename": "g", "captured_at": None}))
    (tmp_path / "tmp" / "half-written.tmp").write_bytes(b"partial")
    spool = Spool(tmp_path)
    assert {e.sha256 for e in spool.entries()} == {kept.sha256, orphan}
    assert list((tmp_path / "tmp").iterdir()) == []


WRITER = """
import sys, os
from node_telescope.spool import Spool
spool = Spool(sys.argv[1])
i = 0
while True:
    spool.add(os.urandom(200_000) + str(i).encode(), f"f{i}.fits")
    i += 1
    print(i, flush=True)
"""


def test_survives_kill_minus_nine_while_writing(tmp_path):
    # Kill a writer mid-stream several times; every entry must be whole and verifiable.
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                                cwd=os.getcwd())
        for _ in range(3 + round_ * 2):
            proc.stdout.readline()
        time.sleep(0.01 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    spool = Spool(tmp_path)
    entries = spool.entries()
    assert len(entries) >= 9
    for entry in entries:
        data = spool.frame_path(entry.sha256).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert len(data) == entry.size
    assert list((tmp_path / "tmp").iterdir()) == []
