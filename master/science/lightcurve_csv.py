"""The light curve as CSV: one row per frame, flagged frames included with their flags."""
from __future__ import annotations

import csv
import io

from .photometry import LightCurve

__all__ = ["COLUMNS", "format_lightcurve_csv", "parse_lightcurve_csv"]

COLUMNS = ("bjd_tdb", "jd_utc", "mag", "mag_err", "rel_flux", "rel_flux_err", "airmass", "check_mag", "good",
           "flags", "frame")


def _num(value, digits: int) -> str:
    return "" if value is None or value != value else f"{value:.{digits}f}"


def format_lightcurve_csv(curve: LightCurve, frame_names: dict[str, str] | None = None) -> str:
    """``frame_names`` maps a measurement's path to what the ``frame`` column should say."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in curve.points:
        f = p.frame
        writer.writerow([_num(f.bjd_tdb, 8), _num(f.jd_utc, 8), _num(p.mag, 5), _num(p.mag_err, 5),
                         _num(p.rel_flux, 8), _num(p.rel_flux_err, 8), _num(f.airmass, 5),
                         _num(p.check_mag, 5), "1" if p.good else "0", ";".join(p.flags),
                         (frame_names or {}).get(f.path, f.path)])
    return out.getvalue()


def parse_lightcurve_csv(text: str) -> list[dict]:
    """Rows as dicts: numbers as floats (None when empty), ``good`` as bool."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row = {}
        for key in COLUMNS:
            value = raw.get(key, "")
            if key in ("flags", "frame"):
                row[key] = value
            elif key == "good":
                row[key] = value == "1"
            else:
                row[key] = float(value) if value not in ("", None) else None
        rows.append(row)
    return rows


def transit_arrays(rows: list[dict]) -> dict:
    """Time, flux, error and airmass arrays of the good rows a transit fit uses; ValueError when too few."""
    import numpy as np

    needed = ("bjd_tdb", "rel_flux", "rel_flux_err")
    rows = [r for r in rows if r["good"] and all(r[k] is not None for k in needed)]
    if len(rows) < 10:
        raise ValueError(f"{len(rows)} good rows with bjd_tdb, rel_flux and rel_flux_err; a transit fit needs "
                         "at least 10")
    column = lambda key, empty=np.nan: np.array([r[key] if r[key] is not None else empty for r in rows])  # noqa
    return {"time": column("bjd_tdb"), "flux": column("rel_flux"), "flux_err": column("rel_flux_err"),
            "airmass": column("airmass", 1.0)}
