"""Masters in the database as ``processing`` objects: cheap stand-ins for choosing, real ones for use.

Choosing among masters needs only their metadata, so rows become ``Master`` objects without pixels
(``data`` is None) that ``calibrate.select_masters`` ranks; only the chosen ones are downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

from astropy.io import fits
from sqlalchemy import select
from sqlalchemy.orm import Session

from master.fitsmeta.normalize import FrameMeta
from master.models import MasterFrame
from master.processing.masters import Master, load_master


def stand_in(row: MasterFrame) -> Master:
    meta = FrameMeta(frame_type=row.kind, camera=row.camera, binning_x=row.binning_x, binning_y=row.binning_y,
                     gain=row.gain, offset=row.offset, set_temp_c=row.set_temp_c, exposure_s=row.exposure_s,
                     filter_name=row.filter_name, date_obs=row.date_obs, width=row.width, height=row.height)
    master = Master(row.kind, None, fits.Header(), meta, path=Path(row.key))
    master.row_id = row.id  # which row to fetch once chosen
    return master


def current_masters(session: Session, width: int | None = None, height: int | None = None) -> list[Master]:
    """Stand-ins for every master not superseded, of the given size when one is given."""
    query = select(MasterFrame).where(MasterFrame.superseded_at.is_(None))
    if width is not None and height is not None:
        query = query.where(MasterFrame.width == width, MasterFrame.height == height)
    return [stand_in(row) for row in session.scalars(query.order_by(MasterFrame.id))]


def fetch(store, stand: Master | None, directory: str | os.PathLike) -> Master | None:
    """The real master behind a stand-in, downloaded into ``directory``."""
    if stand is None:
        return None
    path = Path(directory) / f"{stand.row_id}-{stand.path.name}"
    store.get_file(str(stand.path), path)
    master = load_master(path)
    master.row_id = stand.row_id
    return master
