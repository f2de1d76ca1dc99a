"""``obsy clouds``: classify all-sky frames and calibrate the sky circle of an all-sky camera."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .classical import DEFAULT_REFERENCE_DENSITY, MIN_ALTITUDE, classify
from .imageio import ImageReadError, load_image
from .skymodel import SkyModel, estimate_sky_circle, load_mask


@click.group("clouds")
def clouds_group() -> None:
    """Cloud detection from all-sky camera frames (classical, no training)."""


@clouds_group.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image and line.")
@click.option("--center", nargs=2, type=float, metavar="X Y", help="Zenith pixel (default: estimated per image).")
@click.option("--radius", type=float, help="Horizon radius in pixels (with --center).")
@click.option("--orientation", type=float, default=0.0, show_default=True,
              help="Azimuth (deg) that image 'up' points to.")
@click.option("--mask", "mask_path", type=click.Path(exists=True, dir_okay=False),
              help="Horizon mask image: white = sky, black = trees and buildings.")
@click.option("--sky-model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML written by 'obsy clouds calibrate --write'.")
@click.option("--exposure", type=float, help="Exposure time in seconds, if known (helps tell daylight).")
@click.option("--min-altitude", type=float, default=MIN_ALTITUDE, show_default=True,
              help="Ignore the sky below this altitude (deg).")
@click.option("--reference-density", type=click.FloatRange(min=0), default=DEFAULT_REFERENCE_DENSITY,
              show_default=True, help="Stars per steradian this camera shows on a clear night "
              "(the clear_density reported for a clear frame).")
def classify_command(images, as_json, center, radius, orientation, mask_path, model_path, exposure,
                     min_altitude, reference_density) -> None:
    """Classify each IMAGE as clear, partly, cloudy, overcast or unknown."""
    if (center is None) != (radius is None):
        raise click.UsageError("--center and --radius go together")
    if radius is not None and radius <= 0:
        raise click.BadParameter("must be > 0", param_hint="--radius")
    fixed = mask = None
    try:
        mask = load_mask(mask_path) if mask_path else None
        if model_path:
            fixed = SkyModel.from_toml(model_path)
        if center is not None:
            fixed = SkyModel(center[0], center[1], radius, orientation, fixed.mask if fixed else None)
        if fixed is not None and mask is not None:
            fixed.mask = mask
    except (ValueError, ImageReadError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    failed = 0
    for path in images:
        try:
            image = load_image(path)
        except ImageReadError as exc:
            failed += 1
            _emit({"path": path, "label": "error", "error": str(exc)}, as_json, err=True)
            continue
        model = fixed
        if model is None:
            circle = estimate_sky_circle([image])
            model = SkyModel(circle.cx, circle.cy, circle.radius, orientation,
                             mask if mask is not None else circle.mask)
        try:
            result = classify(image, model, exposure_s=exposure, min_altitude=min_altitude,
                              reference_density=reference_density)
        except ValueError as exc:  # a sky mask made for another camera
            failed += 1
            _emit({"path": path, "label": "error", "error": f"{path}: {exc}"}, as_json, err=True)
            continue
        record = {"path": path, "label": result.label, "cloud_fraction": result.cloud_fraction,
                  "detector": result.detector, "stars_detected": result.stars_detected,
                  "clear_density": result.clear_density, "regions": result.regions}
        if result.reason:
            record["reason"] = result.reason
        if result.moon:
            record["moon"] = result.moon
        _emit(record, as_json)
    if failed:
        raise SystemExit(1)


def _emit(record: dict, as_json: bool, err: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(record))
        if err:
            click.echo(record["error"], err=True)
        return
    if err:
        click.echo(f"error: {record['error']}", err=True)
        return
    fraction = "-" if record["cloud_fraction"] is None else f"{record['cloud_fraction']:.2f}"
    line = (f"{record['path']}: {record['label']} cloud_fraction={fraction} "
            f"stars={record['stars_detected']} detector={record['detector']}")
    if record.get("reason"):
        line += f" reason: {record['reason']}"
    click.echo(line)
    for region in record["regions"]:
        value = "-" if region["cloud_fraction"] is None else f"{region['cloud_fraction']:.2f}"
        click.echo(f"  alt {region['alt_min']:4.0f}-{region['alt_max']:<4.0f} "
                   f"az {region['az_min']:5.0f}-{region['az_max']:<5.0f} cloud {value:>4} "
                   f"stars {region['stars']}")


@clouds_group.command("calibrate")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the values to this TOML file.")
@click.option("--orientation", type=float, default=0.0, show_default=True,
              help="Azimuth (deg) that image 'up' points to.")
def calibrate_command(images, write_path: Path | None, orientation: float) -> None:
    """Estimate the sky circle (zenith pixel, horizon radius) from one or more IMAGEs."""
    frames = []
    for path in images:
        try:
            frames.append(load_image(path))
        except ImageReadError as exc:
            click.echo(f"error: {exc}", err=True)
    if not frames:
        raise click.ClickException("no readable image to calibrate from")
    shapes = {f.data.shape for f in frames}
    if len(shapes) > 1:
        raise click.ClickException("the images differ in size; calibrate one camera at a time")
    circle = estimate_sky_circle(frames)
    if circle.method != "fit":
        click.echo("warning: no horizon edge found (the sky disc may fill the frame); "
                   "using the frame centre and half its diagonal", err=True)
    text = SkyModel(circle.cx, circle.cy, circle.radius, orientation).to_toml()
    click.echo(text, nl=False)
    if write_path is not None:
        write_path.parent.mkdir(parents=True, exist_ok=True)
        write_path.write_text(text)
        click.echo(f"wrote {write_path}", err=True)
