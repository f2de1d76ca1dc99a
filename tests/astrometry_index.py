"""A private astrometry.net index built from a star list, so solve-field runs for real in tests.

Debian's index packages hold the real sky (hundreds of MB); a test's frames show a generated sky,
so the index is made from the same star list with ``build-astrometry-index`` (part of the
astrometry.net package), one file per quad-size preset around the field size.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from astropy.table import Table


def build_index(folder: Path, ra: np.ndarray, dec: np.ndarray, mag: np.ndarray,
                presets=(0, 1, 2, 3), index_id: int = 9100) -> Path:
    """``folder`` holding index-<id><preset>.fits for the stars given (brightest first is not needed)."""
    program = shutil.which("build-astrometry-index")
    if program is None:
        raise RuntimeError("build-astrometry-index is missing: scripts/install-system.sh test installs astrometry.net")
    folder.mkdir(parents=True, exist_ok=True)
    catalogue = folder / "stars.fits"
    Table({"RA": np.asarray(ra, float), "DEC": np.asarray(dec, float), "MAG": np.asarray(mag, float)}).write(
        catalogue, overwrite=True)
    for preset in presets:
        out = folder / f"index-{index_id + preset}.fits"
        done = subprocess.run([program, "-i", str(catalogue), "-o", str(out), "-P", str(preset), "-S", "MAG",
                               "-E", "-M", "-I", str(index_id + preset)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"build-astrometry-index failed: {(done.stderr or done.stdout)[-500:]}")
    catalogue.unlink()  # solve-field would otherwise try to read it as an index
    return folder
