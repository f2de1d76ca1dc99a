"""WCS for every frame of a photometry run: the frame's own, or a plate solution.

The first frame found with a WCS (in the run, or any light of the same target in the repository) is
the reference; a frame without one is matched to it by star pattern. With no solved frame of the
target at all, astrometry.net is tried once (when installed with index files), and its solution
becomes the reference. Which frames were solved, how, and how well goes into the products.
"""
from __future__ import annotations

import logging
import os
import tempfile

from sqlalchemy import select

from master.fitsmeta.reader import FitsReadError, read_fits
from master.models import Frame
from .platesolve import PlateSolveError, Reference, celestial_wcs, match_reference, solve_field

log = logging.getLogger(__name__)

__all__ = ["RunSolver", "PlateSolveError", "with_wcs"]
MAX_CANDIDATES = 20  # repository frames read while looking for a solved one


class RunSolver:
    def __init__(self, services, target_name: str):
        self.services = services
        self.target_name = target_name
        self.reference: Reference | None = None
        self.searched = False
        self.astrometry_error: str | None = None
        self.solved: dict[str, dict] = {}  # frame id → how its WCS was found

    def _search_repository(self) -> Reference | None:
        self.searched = True
        with self.services.sessions() as session:
            candidates = session.scalars(select(Frame).where(Frame.target_name == self.target_name,
                                                             Frame.frame_type == "light")
                                         .order_by(Frame.date_obs, Frame.id).limit(MAX_CANDIDATES)).all()
            candidates = [(f.id, f.key) for f in candidates]
        fd, tmp = tempfile.mkstemp(prefix="obsy-ref-", suffix=".fits")
        os.close(fd)
        try:
            for frame_id, key in candidates:
                try:
                    self.services.store.get_file(key, tmp)
                    header, data = read_fits(tmp, require_image=True)
                except (FitsReadError, OSError):
                    continue
                wcs = celestial_wcs(header)
                if wcs is not None:
                    return Reference.from_frame(data, wcs, frame_id)
        finally:
            os.unlink(tmp)
        return None

    def _astrometry(self, frame: Frame, path: str, data, header):
        if self.astrometry_error is not None:  # one failure per run is enough to know
            raise PlateSolveError(self.astrometry_error)
        scale = header.get("SCALE") or header.get("PIXSCALE")
        try:
            wcs, how = solve_field(path, ra=frame.ra_deg, dec=frame.dec_deg,
                                   scale_arcsec=float(scale) if scale else None)
        except PlateSolveError as exc:
            self.astrometry_error = (f"no WCS, no solved frame of {self.target_name!r} to match it to, and {exc}")
            raise PlateSolveError(self.astrometry_error) from None
        self.reference = Reference.from_frame(data, wcs, frame.id)
        return wcs, how

    def ensure_wcs(self, frame: Frame, path: str, header, data):
        """``header`` with a celestial WCS (its own, or the solution added); PlateSolveError if none."""
        own = celestial_wcs(header)
        if own is not None:
            if self.reference is None:
                self.reference = Reference.from_frame(data, own, frame.id)
            return header
        if self.reference is None and not self.searched:
            self.reference = self._search_repository()
        if self.reference is not None:
            wcs, how = match_reference(data, self.reference)
        else:
            wcs, how = self._astrometry(frame, path, data, header)
        self.solved[str(frame.id)] = how
        return with_wcs(header, wcs, how["method"])


def with_wcs(header, wcs, method: str):
    """A copy of ``header`` holding ``wcs``, its SIP distortion terms included (astropy drops them
    unless told: they are not in the WCS standard, but every FITS reader that matters reads them)."""
    header = header.copy()
    header.update(wcs.to_header(relax=wcs.sip is not None))
    header["HISTORY"] = f"WCS by OBSY: {method}"
    return header
