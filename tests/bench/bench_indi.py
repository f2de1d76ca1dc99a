"""Benchmark: the time OBSY adds per frame on the INDI path, beyond the BLOB transfer.

Run with `.venv/bin/python -m tests.bench.bench_indi` (not part of the suite). A private
indiserver with the CCD simulator exposes 0.1 s darks at 1280x1024 and 4096x3072. For each
frame it prints, in ms: OBSY's work from the decoded BLOB to a finished frame (header
completed), the spool's atomic add, and as the baseline measured in the same run, a plain
write+fsync of the same bytes to the same disk.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common.config import load_config
from node_telescope.backends import make_backend
from node_telescope.spool import Spool
from tests.servers import IndiServer

CAMERA = "CCD Simulator"


def plain_write(folder: Path, data: bytes) -> float:
    start = time.perf_counter()
    path = folder / "plain.fits"
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    with IndiServer() as server, tempfile.TemporaryDirectory() as tmp:
        config = load_config("telescope", backend="indi", indi={"port": server.port, "connect_timeout_s": 10})
        backend = make_backend(config)
        backend.connect()
        spool = Spool(Path(tmp) / "spool")
        client = backend.client
        try:
            for width, height in ((1280, 1024), (4096, 3072)):
                client.send_numbers(CAMERA, "SIMULATOR_SETTINGS", {"SIM_XRES": width, "SIM_YRES": height})
                client.wait_for(lambda: client.value(CAMERA, "CCD_INFO", "CCD_MAX_X") == width, 10, "sensor size")
                obsy, spool_add, baseline = [], [], []
                for _ in range(args.frames):
                    frame = backend.expose(0.1, frame_type="dark", object_name=None, filter_name=None)
                    obsy.append(backend.last_overhead_s)
                    start = time.perf_counter()
                    entry = spool.add(frame.data, frame.filename, frame.captured_at)
                    spool_add.append(time.perf_counter() - start)
                    spool.remove(entry.sha256)
                    baseline.append(plain_write(Path(tmp), frame.data))
                med = lambda values: 1000 * statistics.median(values)  # noqa: E731
                print(f"{width}x{height} ({len(frame.data) / 1e6:.1f} MB), median of {args.frames}: "
                      f"BLOB→frame {med(obsy):.1f} ms, spool add {med(spool_add):.1f} ms, "
                      f"total {med(obsy) + med(spool_add):.1f} ms (target < 100); "
                      f"baseline write+fsync {med(baseline):.1f} ms; "
                      f"OBSY beyond the baseline {med(obsy) + med(spool_add) - med(baseline):.1f} ms")
        finally:
            backend.close()


if __name__ == "__main__":
    main()
