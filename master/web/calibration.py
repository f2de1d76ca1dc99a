"""The calibration page: the library's masters, current and superseded, with their inputs, and the live stacks."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from master.models import LiveStack, MasterFrame
from .context import db

bp = Blueprint("calibration", __name__)
SUPERSEDED_SHOWN = 50  # older masters are kept in the store; the page shows the recent ones


def masters() -> tuple[list[MasterFrame], list[MasterFrame]]:
    query = select(MasterFrame).options(selectinload(MasterFrame.inputs))
    current = db().scalars(query.where(MasterFrame.superseded_at.is_(None))
                           .order_by(MasterFrame.kind, MasterFrame.group_path)).all()
    older = db().scalars(query.where(MasterFrame.superseded_at.is_not(None))
                         .order_by(MasterFrame.superseded_at.desc()).limit(SUPERSEDED_SHOWN)).all()
    return list(current), list(older)


@bp.get("/calibration")
def index():
    current, older = masters()
    stacks = db().scalars(select(LiveStack).order_by(LiveStack.night.desc(), LiveStack.target_name)
                          .limit(50)).all()
    return render_template("calibration/index.html", current=current, older=older, stacks=stacks)
