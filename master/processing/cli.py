"""``obsy process masters|calibrate|stack``: the processing library on files, without a database.

Arguments may be files or folders (folders are searched for .fits/.fit/.fts/.fz files). A file that
cannot be used is reported on stderr with its reason and the run goes on; the command fails only
when nothing at all could be done.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click

__all__ = ["process_group"]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz", ".fts.gz")


@click.group("process")
def process_group() -> None:
    """Build masters, calibrate lights and stack them (files in, files out)."""


def _expand(paths) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FITS_SUFFIXES))
        else:
            files.append(path)
    return files


def _progress(total: int, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty())


def _reject(progress, path: Path, reason: str) -> None:
    progress.write(f"rejected {path}: {reason}", file=sys.stderr)


METHOD_OPTION = click.option("--method", type=click.Choice(["mean", "median"]), default="mean", show_default=True,
                             help="Combination of the values left after clipping.")
SIGMA_OPTION = click.option("--sigma", type=float, default=3.0, show_default=True,
                            help="Clipping threshold in robust standard deviations; 0 disables clipping.")


# --------------------------------------------------------------------------- masters


@process_group.command("masters")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the masters.")
@METHOD_OPTION
@SIGMA_OPTION
@click.option("--temp-tolerance", type=float, default=2.0, show_default=True,
              help="Set points within this many degrees share a master.")
def masters_command(paths, out_dir, method, sigma, temp_tolerance) -> None:
    """Build every master (bias, dark, dark-flat, flat) a mixed set of calibration frames allows."""
    from .calibrate import matching_masters, select_masters
    from .masters import CalibrationError, build_master, group_frames, scan_frames, write_master

    files = _expand(paths)
    progress = _progress(len(files), "file")
    frames, errors = scan_frames(files)
    for path, reason in errors:
        _reject(progress, path, reason)
    calibration = []
    for frame in frames:
        if frame.meta.frame_type in ("bias", "dark", "dark_flat", "flat"):
            calibration.append(frame)
        else:
            _reject(progress, frame.path, f"not a calibration frame (type {frame.meta.frame_type})")
    progress.update(len(files) - len(calibration))
    groups = group_frames(calibration, temp_tolerance)
    built = []
    options = dict(method=method, sigma=sigma or None, temp_tolerance=temp_tolerance, progress=progress.update)
    for kind in ("bias", "dark", "dark_flat", "flat"):
        for key, members in groups.items():
            if key[0] != kind:
                continue
            meta = members[0].meta
            helpers = {}
            if kind != "bias":
                choice = select_masters(meta, built, temp_tolerance, shape=members[0].shape)
                helpers["bias"] = choice.bias
                if kind == "flat":
                    same = [m for m in matching_masters(meta, built, "dark_flat", None)
                            if m.data.shape == members[0].shape and m.meta.exposure_s == meta.exposure_s]
                    helpers["dark_flat"] = same[0] if same else None
                    helpers["dark"] = None if same else choice.dark
            try:
                master = build_master(kind, members, **helpers, **options)
            except CalibrationError as exc:
                progress.write(f"failed master {kind} of {len(members)} frames: {exc}", file=sys.stderr)
                continue
            path = write_master(master, Path(out_dir) / f"master_{kind}_{_slug(key)}.fits")
            built.append(master)
            used = ", ".join(f"{k} {m.name}" for k, m in helpers.items() if m is not None) or "no other master"
            progress.write(f"wrote {path} from {len(members)} frames ({used})")
    progress.close()
    if not built:
        raise click.ClickException("no master could be built")
    click.echo(f"{len(built)} masters written to {out_dir}, {len(errors)} files rejected")


def _slug(key: tuple) -> str:
    _, camera, bx, by, gain, offset, temp, exposure, filter_name, _shape = key
    parts = [camera or "camera", f"bin{bx or 1}x{by or 1}"]
    if gain is not None:
        parts.append(f"g{gain:g}")
    if offset is not None:
        parts.append(f"o{offset:g}")
    if temp is not None:
        parts.append(f"{temp:g}C")
    if exposure is not None:
        parts.append(f"{exposure:g}s")
    if filter_name:
        parts.append(filter_name)
    return "_".join(re.sub(r"[^A-Za-z0-9.+-]+", "-", part) for part in parts)


# --------------------------------------------------------------------------- calibrate


@process_group.command("calibrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for calibrated lights.")
@click.option("--masters", "masters_dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of masters to choose from for each light.")
@click.option("--bias", type=click.Path(exists=True, dir_okay=False), help="Master bias (overrides --masters).")
@click.option("--dark", type=click.Path(exists=True, dir_okay=False), help="Master dark (overrides --masters).")
@click.option("--flat", type=click.Path(exists=True, dir_okay=False), help="Master flat (overrides --masters).")
@click.option("--strict", is_flag=True, help="Refuse a light for which a master is missing.")
@click.option("--no-bad-pixels", is_flag=True, help="Keep hot pixels (do not use the dark's bad-pixel map).")
def calibrate_command(paths, out_dir, masters_dir, bias, dark, flat, strict, no_bad_pixels) -> None:
    """Calibrate light frames; writes <name>_cal.fits into OUT."""
    from master.fitsmeta.normalize import normalize_header
    from master.fitsmeta.reader import FitsReadError, read_fits

    from .calibrate import calibrate_light, load_library, select_masters, write_calibrated
    from .masters import CalibrationError, load_master

    if not (masters_dir or bias or dark or flat):
        raise click.UsageError("give --masters DIR or at least one of --bias/--dark/--flat")
    given = {}
    for kind, path in (("bias", bias), ("dark", dark), ("flat", flat)):
        if path:
            try:
                master = load_master(path)
            except (FitsReadError, CalibrationError) as exc:
                raise click.ClickException(f"{path}: {getattr(exc, 'reason', exc)}") from None
            if master.kind != kind:
                raise click.ClickException(f"{path} is a master {master.kind}, not a {kind}")
            given[kind] = master
    library = []
    if masters_dir:
        library, skipped = load_library(masters_dir)
        for path, reason in skipped:
            click.echo(f"skipped master {path}: {reason}", err=True)
    files = _expand(paths)
    progress = _progress(len(files), "file")
    done = 0
    for path in files:
        progress.update(1)
        try:
            header, data = read_fits(path, require_image=True)
        except FitsReadError as exc:
            _reject(progress, path, exc.reason)
            continue
        meta = normalize_header(header)
        if meta.frame_type not in ("light", "unknown"):
            _reject(progress, path, f"not a light frame (type {meta.frame_type})")
            continue
        selection = select_masters(meta, library, shape=data.shape) if library else None
        chosen = {k: given.get(k) or (getattr(selection, k) if selection else None) for k in ("bias", "dark", "flat")}
        notes = [w for w in (selection.warnings if selection else [])
                 if not any(w.startswith(f"no matching master {k}") for k in given)]
        try:
            out, record = calibrate_light(data, meta, **chosen, bad_pixels=not no_bad_pixels, strict=strict,
                                          warnings=notes)
        except CalibrationError as exc:
            _reject(progress, path, str(exc))
            continue
        target = write_calibrated(Path(out_dir) / f"{_stem(path)}_cal.fits", out, header, record, path.name)
        done += 1
        used = ", ".join(f"{k} {getattr(record, k)}" for k in ("bias", "dark", "flat") if getattr(record, k))
        progress.write(f"calibrated {path} -> {target} ({used or 'no masters'})")
        for warning in record.warnings:
            progress.write(f"  warning: {warning}", file=sys.stderr)
    progress.close()
    if not done:
        raise click.ClickException("no light could be calibrated")
    click.echo(f"{done} calibrated, {len(files) - done} rejected")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(FITS_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# --------------------------------------------------------------------------- stack


@process_group.command("stack")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="FITS file for the stack.")
@METHOD_OPTION
@SIGMA_OPTION
@click.option("--weights", type=click.Choice(["none", "noise", "stars"]), default="none", show_default=True,
              help="Weight frames by 1/noise^2 or by star count / HFR^2 (mean only).")
@click.option("--no-register", is_flag=True, help="The frames are already aligned.")
@click.option("--reference", type=int, default=0, show_default=True, help="Index of the reference frame.")
@click.option("--memory", "memory_mb", type=int, default=128, show_default=True,
              help="Megabytes for each band of rows while combining.")
def stack_command(paths, out_path, method, sigma, weights, no_register, reference, memory_mb) -> None:
    """Register light frames on their stars and stack them (with REJECTED and COVERAGE maps)."""
    from .stack import RegistrationError, stack_files, write_stack

    files = _expand(paths)
    if not 0 <= reference < len(files):
        raise click.UsageError(f"--reference must be between 0 and {len(files) - 1}")
    progress = _progress(len(files), "frame")
    try:
        result = stack_files(files, method=method, sigma=sigma or None, weights=None if weights == "none" else weights,
                             reference=reference, register=not no_register, memory_budget=memory_mb * 1024 * 1024,
                             progress=progress.update)
    except RegistrationError as exc:
        progress.close()
        raise click.ClickException(str(exc)) from None
    progress.close()
    for path, reason in result.failed:
        click.echo(f"rejected {path}: {reason}", err=True)
    write_stack(result, out_path)
    click.echo(f"stacked {len(result.used)} frames into {out_path}, {len(result.failed)} left out")


# --------------------------------------------------------------------------- colour


@process_group.command("colour")
@click.option("--r", "red", type=click.Path(exists=True, dir_okay=False), help="Stack of the red filter.")
@click.option("--g", "green", type=click.Path(exists=True, dir_okay=False), help="Stack of the green filter.")
@click.option("--b", "blue", type=click.Path(exists=True, dir_okay=False), help="Stack of the blue filter.")
@click.option("--l", "lum", type=click.Path(exists=True, dir_okay=False), help="Luminance stack (LRGB).")
@click.option("--rgb", type=click.Path(exists=True, dir_okay=False), help="A one-shot-colour (3-plane) stack.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="PNG preview to write.")
@click.option("--fits", "fits_path", type=click.Path(dir_okay=False), help="Also the linear R, G, B cube as FITS.")
def colour_command(red, green, blue, lum, rgb, out_path, fits_path) -> None:
    """Register per-filter stacks to each other and combine them into an RGB or LRGB image."""
    import numpy as np
    from astropy.io import fits

    from master.previews import make_previews

    from .colour import ColourError, combine_channels

    given = {c: p for c, p in (("R", red), ("G", green), ("B", blue), ("L", lum), ("RGB", rgb)) if p}
    try:
        planes = {c: np.asarray(fits.getdata(p), dtype=np.float32) for c, p in given.items()}
        composite = combine_channels(planes)
    except (OSError, ColourError) as exc:
        raise click.ClickException(str(exc)) from None
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_bytes(make_previews(composite.rgb)[1])
    if fits_path:
        header = fits.Header()
        header["COLORTYP"] = ("RGB", "planes: red, green, blue")
        header["COMPOSIT"] = (composite.kind, "made from per-filter stacks")
        fits.PrimaryHDU(composite.rgb, header).writeto(fits_path, overwrite=True)
    moved = ", ".join(f"{c} by ({dx:+.1f}, {dy:+.1f}) px" for c, (dx, dy) in composite.shifts.items()
                      if c != composite.reference)
    click.echo(f"{composite.kind} image written to {out_path}; registered on {composite.reference}"
               + (f": {moved}" if moved else ""))
