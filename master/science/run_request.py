"""A photometry request as a person types it: comparison stars one per line, apertures in FWHM."""
from __future__ import annotations

__all__ = ["RequestError", "parse_comparisons", "parse_aperture"]


class RequestError(ValueError):
    """The request cannot be run as typed; the message says which line or field and why."""


def _number(text: str, what: str, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise RequestError(f"line {line}: {what} {text!r} is not a number") from None


def parse_comparisons(text: str) -> list[dict] | None:
    """``RA DEC [MAG]`` (J2000 degrees) or ``px X Y [MAG]`` (0-based pixels) per line; blank: automatic."""
    stars = []
    for number, raw in enumerate((text or "").splitlines(), 1):
        parts = raw.split("#", 1)[0].replace(",", " ").split()
        if not parts:
            continue
        pixel = parts[0].lower() == "px"
        values = parts[1:] if pixel else parts
        if len(values) not in (2, 3):
            raise RequestError(f"line {number}: expected {'px X Y' if pixel else 'RA DEC'} and an optional magnitude")
        a, b = _number(values[0], "X" if pixel else "RA", number), _number(values[1], "Y" if pixel else "Dec", number)
        mag = _number(values[2], "magnitude", number) if len(values) == 3 else None
        if not pixel and not (0 <= a < 360 and -90 <= b <= 90):
            raise RequestError(f"line {number}: RA must be 0–360 and Dec −90–90 degrees")
        star = {"name": f"C{len(stars) + 1}", "mag": mag}
        star.update({"x": a, "y": b} if pixel else {"ra": a, "dec": b})
        stars.append(star)
    if stars and len({s["mag"] is None for s in stars}) > 1:
        raise RequestError("give a magnitude for every comparison star or for none")
    return stars or None


def parse_aperture(aperture: str, inner: str, outer: str) -> tuple[float, float, float]:
    """Aperture radius and background annulus, in FWHM."""
    try:
        values = tuple(float(v) for v in (aperture, inner, outer))
    except ValueError:
        raise RequestError("aperture and annulus radii must be numbers (in FWHM)") from None
    r, r_in, r_out = values
    if not 0.5 <= r <= 5.0:
        raise RequestError("the aperture radius must be 0.5–5 FWHM")
    if not r < r_in < r_out <= 15.0:
        raise RequestError("the annulus must start outside the aperture and end beyond its start (at most 15 FWHM)")
    return values
