"""The ``update_live_stack`` job: fold one accepted light into its night's running stack.

Restartable: the state (mean, coverage, reference stars) is written under a new key per version,
and the row moves to it only if nobody else did first (``n_frames`` is the version), so a crash or
a race never adds a frame twice or loses one -- the loser is retried. The product the portal and
viewer show, ``stacks/live/<night>/<target>/<filter>.fits`` and its ``.png``, is rewritten after
each commit (and again on redelivery, in case the crash came in between).
"""
from __future__ import annotations

import logging

from astropy.io import fits
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from common import names
from common.contracts import LiveStackUpdated, UpdateLiveStack
from master.ingest.keys import slug
from master.library.apply import calibrate_frame
from master.models import Frame, LiveStack, live_stack_frames, utcnow
from master.previews import make_previews
from master.processing.debayer import bayer_layout, colour_phase, debayer_bilinear
from master.processing.running_mean import RunningMean
from master.processing.stack import BAYER_CARDS, RegistrationError

log = logging.getLogger(__name__)


class StackMoved(Exception):
    """Another worker updated the stack first; the job is retried on the new state."""


def stack_keys(night: str, target: str, filter_name: str) -> tuple[str, str]:
    base = f"stacks/live/{night}/{slug(target, 'unknown-target')}/{slug(filter_name, 'no-filter')}"
    return f"{base}.fits", f"{base}.png"


def update_live_stack(services, job: UpdateLiveStack) -> str:
    """'added', 'first', 'already' (frame was in), 'skipped' (not a stackable light) or 'unregistered'."""
    with services.sessions() as session:
        frame = session.get(Frame, job.frame_id)
        if frame is None or frame.frame_type != "light" or not frame.accepted or frame.night is None:
            return "skipped"  # an undated frame belongs to no night's stack
        stack = _stack_for(session, frame)
        stack_id, version, state_key = stack.id, stack.n_frames, stack.state_key
        already = session.execute(select(live_stack_frames).where(
            live_stack_frames.c.stack_id == stack_id, live_stack_frames.c.frame_id == frame.id)).first()
        header_cards = [tuple(c[:3]) for c in frame.header.cards] if frame.header else []
    if already:
        _publish(services, stack_id)
        return "already"
    data, _, _ = calibrate_frame(services, job.frame_id)   # records the masters used, or what was missing
    layout = bayer_layout(fits.Header([(k, v) for k, v, _ in header_cards if k in BAYER_CARDS + ("ROWORDER",)]))
    if layout is not None and data.ndim == 2:   # a one-shot-colour frame: the live stack is R, G, B
        data = debayer_bilinear(data, colour_phase(layout, data.shape[0]))
    if state_key is None:
        state, outcome = RunningMean.first(data, reference_header(header_cards)), "first"
    else:
        state = RunningMean.from_bytes(services.store.get_bytes(state_key))
        try:
            state.add(data)
        except (RegistrationError, ValueError) as exc:   # no star match; a mono frame in a colour stack
            log.warning("frame %s left out of live stack %s: %s", job.frame_id, stack_id, exc)
            return "unregistered"
        outcome = "added"
    # Named by version and frame: a racing worker must not overwrite the state the winner committed.
    new_key = f"work/live-stacks/{stack_id}/{state.n_frames}-{job.frame_id}.fits"
    services.store.put_bytes(new_key, state.to_bytes())
    with services.sessions() as session:
        moved = session.execute(update(LiveStack).where(LiveStack.id == stack_id, LiveStack.n_frames == version)
                                .values(n_frames=state.n_frames, state_key=new_key, updated_at=utcnow()))
        if moved.rowcount != 1:
            session.rollback()
            services.store.delete(new_key)
            raise StackMoved(f"live stack {stack_id} changed while frame {job.frame_id} was added")
        session.execute(insert(live_stack_frames).values(stack_id=stack_id, frame_id=job.frame_id))
        session.commit()
    if state_key is not None:
        services.store.delete(state_key)
    _publish(services, stack_id, state)
    return outcome


def _stack_for(session, frame: Frame) -> LiveStack:
    night = frame.night.isoformat() if frame.night else "undated"
    target, filter_name = frame.target_name or "unknown-target", frame.filter_name or "no-filter"
    where = (LiveStack.night == frame.night, LiveStack.target_name == target, LiveStack.filter_name == filter_name)
    stack = session.scalar(select(LiveStack).where(*where))
    if stack is not None:
        return stack
    key, preview = stack_keys(night, target, filter_name)
    session.add(LiveStack(night=frame.night, target_name=target, filter_name=filter_name, n_frames=0,
                          key=key, preview_key=preview))
    try:
        session.commit()
    except IntegrityError:  # the first frames of a stack raced; one row wins
        session.rollback()
    return session.scalar(select(LiveStack).where(*where))


KEPT_CARDS = ("OBJECT", "FILTER", "DATE-OBS", "INSTRUME", "TELESCOP", "EXPTIME")
WCS_PREFIXES = ("CRVAL", "CRPIX", "CD1_", "CD2_", "CTYPE", "CUNIT", "RADESYS", "EQUINOX")


def reference_header(cards) -> fits.Header:
    """What the stack keeps of its first frame's header: what it shows, and the WCS of its grid."""
    header = fits.Header()
    for keyword, value, comment in cards:
        if keyword in KEPT_CARDS or keyword.startswith(WCS_PREFIXES):
            header[keyword] = (value, comment)
    return header


def _publish(services, stack_id: int, state: RunningMean | None = None) -> None:
    with services.sessions() as session:
        stack = session.get(LiveStack, stack_id)
        night, target, filter_name = stack.night, stack.target_name, stack.filter_name
        key, preview_key, state_key = stack.key, stack.preview_key, stack.state_key
    if state is None:
        state = RunningMean.from_bytes(services.store.get_bytes(state_key))
    services.store.put_bytes(key, services.store.get_bytes(state_key), "application/fits")
    _, preview = make_previews(state.mean)
    services.store.put_bytes(preview_key, preview, "image/png")
    services.bus.publish(names.LIVE_STACK_KEY, LiveStackUpdated(
        night=night.isoformat() if night else "undated", target=target, filter_name=filter_name, key=key,
        preview_key=preview_key, n_frames=state.n_frames))
