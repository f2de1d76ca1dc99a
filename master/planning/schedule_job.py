"""From a night plan to the telescope node's job: targets in time order with the frames of their
blocks, each with its dithering and focusing, then the calibration frames the plans asked for."""
from __future__ import annotations

from common.contracts import ScheduleJob
from .planner import NightPlan, PlanRequest

CALIBRATION_NAME = "Calibration"


def _row(row, count: int, frame_type: str = "light", exposure_s: float | None = None) -> dict:
    return {"filter_name": row.filter_name if frame_type != "dark" else None,
            "exposure_s": row.exposure_s if exposure_s is None else exposure_s, "count": count,
            "frame_type": frame_type, "binning": row.binning, "gain": row.gain, "offset": row.offset}


def calibration_rows(plan: NightPlan, requests: list[PlanRequest]) -> list[dict]:
    """Darks for every exposure, binning, gain and offset imaged tonight, flats for every filter and
    binning, for the requests that want them; the largest count asked for wins."""
    by_name = {r.name: r for r in requests}
    darks: dict[tuple, tuple] = {}
    flats: dict[tuple, tuple] = {}
    for block in plan.blocks:
        request = by_name[block.name]
        for index, _count in block.rows:
            row = request.rows[index]
            imaging = request.imaging
            if imaging.darks:
                key = (row.exposure_s, row.binning, row.gain, row.offset)
                darks[key] = (row, max(imaging.darks, darks.get(key, (row, 0))[1]))
            if imaging.flats:
                key = (row.filter_name, row.binning, row.gain, row.offset)
                flats[key] = (row, max(imaging.flats, flats.get(key, (row, 0))[1]), imaging.flat_exposure_s)
    rows = [_row(row, n, "flat", exposure) for (row, n, exposure) in flats.values()]
    rows += [_row(row, n, "dark") for (row, n) in darks.values()]
    return rows


def schedule_job(plan: NightPlan, requests: list[PlanRequest], job_id: str, node: str) -> ScheduleJob:
    by_name = {r.name: r for r in requests}
    targets = []
    for block in plan.blocks:
        request = by_name[block.name]
        rows = [_row(request.rows[index], count) for index, count in block.rows]
        if not rows:
            continue
        imaging = request.imaging
        targets.append({"name": request.name, "ra_deg": request.ra_deg, "dec_deg": request.dec_deg,
                        "rows": rows, "dither_every": imaging.dither_every,
                        "focus_at_start": imaging.focus_at_start, "focus_every_min": imaging.focus_every_min,
                        "focus_temp_delta": imaging.focus_temp_delta})
    calibration = calibration_rows(plan, requests)
    if calibration and targets:
        # Taken after the night where the last target was, so the mount need not move first.
        last = targets[-1]
        targets.append({"name": CALIBRATION_NAME, "ra_deg": last["ra_deg"], "dec_deg": last["dec_deg"],
                        "rows": calibration, "calibration": True})
    return ScheduleJob(job_id=job_id, node=node, targets=targets)
