"""Planned blocks of a night that did not run, and why when the record says so.

A block ran when at least one light frame of its target started inside it. Otherwise the
reason is, in order: an unsafe stretch overlapping it, clouds over the target when the block
began (from the re-plan that was made for them), the job was interrupted or replaced by a
re-plan, the job failed; blocks still to come are not listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo


@dataclass(frozen=True)
class SentBlock:
    name: str
    start: datetime
    end: datetime


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def blocks_as_sent(sent) -> list[SentBlock]:
    """The night's blocks as they were planned when sent: each schedule's blocks until the next one
    replaced it. Empty when the schedules sent carry no block times (rows from before they did)."""
    out: list[SentBlock] = []
    for i, row in enumerate(sent):
        if not row.blocks:
            return []
        until = sent[i + 1].sent_at if i + 1 < len(sent) else None
        until = until if until is None or until.tzinfo else until.replace(tzinfo=timezone.utc)
        for b in row.blocks:
            start, end = _utc(b["start"]), _utc(b["end"])
            if until is not None and start >= until:
                continue  # replaced before it began
            out.append(SentBlock(b["name"], start, end if until is None else min(end, until)))
    return out


def missed_blocks(blocks, frames, now: datetime, *, unsafe=(), job_state: str | None = None,
                  job_reason: str | None = None, replanned: list[tuple[datetime, str]] = (),
                  zone: tzinfo = timezone.utc) -> dict[str, str]:
    """Labels and times are in ``zone`` (the site's, as on the rest of the page). ``blocks``: planner blocks (name, start, end); ``frames``: RanFrame-like (target, start);
    ``unsafe``: unsafe Stretch objects; ``replanned``: (when, why) of re-plans sent that night."""
    out: dict[str, str] = {}
    for block in blocks:
        if block.start >= now:
            continue  # still to come
        if any(f.target == block.name and block.start <= f.start < block.end for f in frames):
            continue
        label = f"{block.name} {block.start.astimezone(zone):%H:%M}–{block.end.astimezone(zone):%H:%M}"
        over = [s for s in unsafe if s.start < block.end and s.end > block.start]
        replan = next(((at, why) for at, why in reversed(replanned) if at <= block.end), None)  # the last before its end
        if over:
            out[label] = "unsafe period " + ", ".join(
                f"{s.start.astimezone(zone):%H:%M}–{s.end.astimezone(zone):%H:%M}" + (f" ({', '.join(s.reasons)})" if s.reasons else "") for s in over)
        elif replan and "cloud" in replan[1]:
            out[label] = f"re-planned at {replan[0].astimezone(zone):%H:%M}: {replan[1]}"
        elif replan or job_state == "interrupted":
            out[label] = "interrupted: replaced by a re-plan" + (f" ({replan[1]})" if replan else "")
        elif job_state == "failed":
            out[label] = f"the job failed{': ' + job_reason if job_reason else ''}"
        else:
            out[label] = "no frames ingested (reason unknown)"
    return out
