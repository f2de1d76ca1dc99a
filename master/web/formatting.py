"""Small display helpers, registered as Jinja filters."""
from __future__ import annotations

from datetime import datetime, timezone


def as_utc(when: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone columns; they are UTC.
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago', or 'never'."""
    when = as_utc(when)
    if when is None:
        return "never"
    seconds = int(((now or datetime.now(timezone.utc)) - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def utc(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    when = as_utc(when)
    return when.strftime(fmt) if when else ""


def iso(when) -> str | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        return as_utc(when).isoformat()
    return when.isoformat()


def num(value, fmt: str = "{:g}", empty: str = "—") -> str:
    if value is None:
        return empty
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def filesize(size: int | None) -> str:
    if size is None:
        return "—"
    units = ("B", "KB", "MB", "GB", "TB")
    value, index = float(size), 0
    while value >= 1024 and index < len(units) - 1:
        value, index = value / 1024, index + 1
    return f"{size} B" if index == 0 else f"{value:.1f} {units[index]}"


def sexagesimal(degrees: float | None, hours: bool = False) -> str:
    """RA in h:m:s (hours=True) or Dec in ±d:m:s."""
    if degrees is None:
        return "—"
    value = degrees / 15.0 if hours else degrees
    sign = "-" if value < 0 else ("" if hours else "+")
    value = abs(value)
    whole = int(value)
    minutes = int((value - whole) * 60)
    seconds = ((value - whole) * 60 - minutes) * 60
    if seconds >= 59.95:  # keep '60.0' from appearing after rounding
        seconds, minutes = 0.0, minutes + 1
        if minutes == 60:
            minutes, whole = 0, whole + 1
    if hours and whole == 24:  # RA wraps: 23:59:59.97 rounds to 00:00:00.0
        whole = 0
    return f"{sign}{whole:02d}:{minutes:02d}:{seconds:04.1f}"


def card_value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "T"
    if value is False:
        return "F"
    return str(value)


def register_filters(app) -> None:
    app.jinja_env.filters.update(ago=ago, utc=utc, num=num, filesize=filesize,
                                 sexagesimal=sexagesimal, card_value=card_value)
