"""``obsy science ser-info|solex|photometry|transit``: the science library on files, without a database."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .transit_cli import transit_command

__all__ = ["science_group", "solex_group"]


@click.group("science")
def science_group() -> None:
    """Science products from files: SER videos, Sol'ex disks, differential photometry, transits."""


science_group.add_command(transit_command)


@science_group.command("ser-info")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def ser_info_command(path, as_json) -> None:
    """Print the header of a SER video and a summary of its timestamps."""
    from .ser import SerError, read_ser

    try:
        info = read_ser(path, max_frames=1).info()
    except SerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")


SOLEX_OPTIONS = (
    click.argument("path", type=click.Path(exists=True, dir_okay=False)),
    click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
                 help="Folder for FITS and PNG."),
    click.option("--shift", "shifts", type=float, multiple=True,
                 help="Offset from the line centre in pixels (repeatable); 0 is always made."),
    click.option("--spectral-axis", type=click.Choice(["auto", "rows", "columns"]), default="auto",
                 show_default=True, help="Frame axis along which the wavelength runs."),
    click.option("--no-correct", is_flag=True, help="Skip the ellipse-to-circle geometric correction."),
)


def solex_options(command):
    for option in reversed(SOLEX_OPTIONS):
        command = option(command)
    return command


def _solex(path, out_dir, shifts, spectral_axis, no_correct) -> None:
    from .ser import SerError
    from .solex import SolexError
    from .solex_job import reconstruct_file

    axis = {"auto": None, "rows": 1, "columns": 2}[spectral_axis]
    try:
        result, written, _ = reconstruct_file(path, out_dir, shifts, stem=Path(path).stem, correct=not no_correct,
                                              spectral_axis=axis)
    except (SerError, SolexError) as exc:
        raise click.ClickException(str(exc)) from None
    for item in written:
        click.echo(str(item))
    if result.ellipse is not None:
        click.echo(f"disk radius {result.radius:.1f} px, scan scale {result.scale_x:.4f}, shear {result.shear:.4f}, "
                   f"line rms {result.line.rms:.3f} px", err=True)


@science_group.command("solex")
@solex_options
def solex_command(**options) -> None:
    """Rebuild the solar disk from a Sol'ex scan (SER) into FITS and PNG files."""
    _solex(**options)


@click.group("solex")
def solex_group() -> None:
    """Sol'ex spectroheliograph scans (``obsy solex reconstruct FILE.ser``)."""


@solex_group.command("reconstruct")
@solex_options
def solex_reconstruct_command(**options) -> None:
    """Rebuild the solar disk from a Sol'ex scan (SER) into FITS and PNG files."""
    _solex(**options)


def _star(name: str, coords, mag=None):
    from .photometry import Star

    return Star(name, float(coords[0]), float(coords[1]), mag)


@science_group.command("photometry")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--target", nargs=2, type=float, required=True, metavar="RA DEC", help="Target J2000, degrees.")
@click.option("--target-name", default="TARGET", show_default=True, help="STARID in the report.")
@click.option("--comp", "comps", nargs=2, type=float, multiple=True, metavar="RA DEC",
              help="Comparison star, degrees (repeatable).")
@click.option("--comp-file", type=click.Path(exists=True, dir_okay=False),
              help="Comparison stars from a catalogue file: CSV with name, ra, dec, mag columns, or a VSP chart (JSON).")
@click.option("--band", default="V", show_default=True, help="Band of the magnitudes taken from a VSP chart.")
@click.option("--comp-mag", "comp_mags", type=float, multiple=True,
              help="Catalogue magnitude of each comparison, in order (all or none).")
@click.option("--check", nargs=2, type=float, default=None, metavar="RA DEC", help="Check star, degrees.")
@click.option("--obscode", default="na", show_default=True, help="AAVSO observer code.")
@click.option("--date-type", type=click.Choice(["JD", "HJD", "BJD"]), default="JD", show_default=True)
@click.option("--filter", "filter_name", default=None, help="AAVSO filter code (default: the FILTER keyword).")
@click.option("--chart", default="na", show_default=True, help="AAVSO chart identifier.")
@click.option("--aperture", type=float, default=1.75, show_default=True, help="Aperture radius in FWHM.")
@click.option("--site", nargs=3, type=float, default=None, metavar="LAT LON ELEV",
              help="Site (deg, deg east, m) when the headers lack SITELAT/SITELONG.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Report file.")
def photometry_command(paths, target, target_name, comps, comp_file, band, comp_mags, check, obscode, date_type,
                       filter_name, chart, aperture, site, out_path) -> None:
    """Differential photometry of a target against comparison stars, as an AAVSO Extended report."""
    from .photometry import differential_photometry, format_aavso_extended, measure_files

    if comp_mags and len(comp_mags) != len(comps):
        raise click.UsageError("give one --comp-mag per --comp, or none")
    if bool(comps) == bool(comp_file):
        raise click.UsageError("give the comparison stars with --comp or with --comp-file (one of them)")
    target_star = _star(target_name, target)
    comp_stars = [_star(f"C{i + 1}", c, comp_mags[i] if comp_mags else None) for i, c in enumerate(comps)]
    if comp_file:
        from .comparison_file import parse_catalogue
        from .run_request import RequestError

        try:
            listed = parse_catalogue(Path(comp_file).read_bytes(), band)
        except RequestError as exc:
            raise click.BadParameter(str(exc), param_hint="--comp-file") from None
        comp_stars = [_star(c["name"], (c["ra"], c["dec"]), c["mag"]) for c in listed]
        chart = listed[0].get("chart", chart) if chart == "na" else chart
    check_star = _star("CHECK", check) if check else None
    stars = [target_star, *comp_stars] + ([check_star] if check_star else [])
    frames, errors = measure_files(paths, stars, aperture_fwhm=aperture, site=tuple(site) if site else None)
    for path, reason in errors:
        click.echo(f"rejected {path}: {reason}", err=True)
    if not frames:
        raise click.ClickException("no frame could be measured")
    curve = differential_photometry(frames, target_star, comp_stars, check_star)
    from importlib.metadata import PackageNotFoundError, version

    try:
        software = f"OBSY {version('obsy')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        software = "OBSY"
    text = format_aavso_extended(curve, obscode=obscode, software=software, date_type=date_type,
                                 filter_name=filter_name, chart=chart)
    Path(out_path).write_text(text)
    flagged = sum(1 for p in curve.points if not p.good)
    click.echo(f"{len(curve.points) - flagged} observations written to {out_path}, {flagged} flagged frames left out")
