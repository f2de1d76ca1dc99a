"""``obsy clouds``: classify all-sky frames, calibrate the sky circle, train and evaluate models."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._optional import MissingExtra
from .classical import DEFAULT_REFERENCE_DENSITY, MIN_ALTITUDE, CloudResult
from .collect import Collector
from .detectors import make_detector
from .evaluate import evaluate
from .imageio import ImageReadError, load_image
from .metrics import format_score
from .skymodel import SkyModel, estimate_sky_circle, load_mask
from .train import DEFAULT_SIZE  # train.py imports TensorFlow only inside train()


@click.group("clouds")
def clouds_group() -> None:
    """Cloud detection from all-sky camera frames (classical, or a trained model)."""


@clouds_group.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image and line.")
@click.option("--detector", type=click.Choice(["classical", "ml"]), default="classical", show_default=True,
              help="classical needs no training; ml runs a trained model (--model, extra 'ml').")
@click.option("--model", "ml_model", type=click.Path(exists=True),
              help="ml: model.tflite / model.keras / keras_model.h5, or the folder holding it and labels.txt.")
@click.option("--collect", "collect_dir", type=click.Path(file_okay=False),
              help="Copy every N-th image into COLLECT/<label>/ for later review and retraining.")
@click.option("--collect-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="N for --collect.")
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
def classify_command(images, as_json, detector, ml_model, collect_dir, collect_every, **classical) -> None:
    """Classify each IMAGE as clear, partly, cloudy, overcast or unknown (or the model's classes)."""
    chosen = _detector(detector, ml_model, **classical)
    collector = Collector(collect_dir, collect_every) if collect_dir else None
    failed = 0
    for path in images:
        try:
            result = chosen.classify_file(path)
        except (ImageReadError, ValueError) as exc:  # ValueError: a sky mask made for another camera
            failed += 1
            message = str(exc) if path in str(exc) else f"{path}: {exc}"
            _emit({"path": path, "label": "error", "error": message}, as_json, err=True)
            continue
        _emit(_record(path, result), as_json)
        if collector is not None:
            try:
                collector.offer(path, result.label)
            except OSError as exc:
                click.echo(f"error: {path}: not collected ({exc})", err=True)
    if failed:
        raise SystemExit(1)


def _detector(kind: str, ml_model: str | None, *, center, radius, orientation, mask_path, model_path,
              exposure, min_altitude, reference_density):
    """The chosen detector, or a usage error that says what is wrong with the options."""
    if (center is None) != (radius is None):
        raise click.UsageError("--center and --radius go together")
    if radius is not None and radius <= 0:
        raise click.BadParameter("must be > 0", param_hint="--radius")
    fixed = mask = None
    try:
        if kind == "classical":
            mask = load_mask(mask_path) if mask_path else None
            if model_path:
                fixed = SkyModel.from_toml(model_path)
            if center is not None:
                fixed = SkyModel(center[0], center[1], radius, orientation, fixed.mask if fixed else None)
            if fixed is not None and mask is not None:
                fixed.mask = mask
        return make_detector(kind, ml_model, model=fixed, mask=mask, orientation=orientation,
                             exposure_s=exposure, min_altitude=min_altitude, reference_density=reference_density)
    except (ValueError, ImageReadError, OSError, MissingExtra) as exc:
        raise click.ClickException(str(exc)) from None


def _record(path: str, result: CloudResult) -> dict:
    """One JSON schema for both detectors; optional fields only when they have a value."""
    record = {"path": path, "label": result.label, "cloud_fraction": result.cloud_fraction,
              "detector": result.detector, "stars_detected": result.stars_detected,
              "clear_density": result.clear_density, "regions": result.regions}
    for key in ("reason", "moon", "probabilities"):
        if getattr(result, key):
            record[key] = getattr(result, key)
    return record


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
    stars = "-" if record["stars_detected"] is None else record["stars_detected"]
    line = (f"{record['path']}: {record['label']} cloud_fraction={fraction} "
            f"stars={stars} detector={record['detector']}")
    if record.get("reason"):
        line += f" reason: {record['reason']}"
    if record.get("probabilities"):
        line += " p(" + ", ".join(f"{k}={v:.2f}" for k, v in record["probabilities"].items()) + ")"
    click.echo(line)
    for region in record["regions"]:
        value = "-" if region["cloud_fraction"] is None else f"{region['cloud_fraction']:.2f}"
        click.echo(f"  alt {region['alt_min']:4.0f}-{region['alt_max']:<4.0f} "
                   f"az {region['az_min']:5.0f}-{region['az_max']:<5.0f} cloud {value:>4} "
                   f"stars {region['stars']}")


@clouds_group.command("train")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.keras, model.tflite, labels.txt and report.json.")
@click.option("--size", type=click.IntRange(min=32), default=DEFAULT_SIZE, show_default=True,
              help="Input side in pixels (a centre square crop of each frame, resized).")
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--validation", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True,
              help="Share of each class held out for validation.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quantize", is_flag=True,
              help="Also write model_int8.tflite (integer-only, calibrated on the training images).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def train_command(directory, out_dir, size, epochs, validation, seed, quantize, as_json) -> None:
    """Train a model on DIRECTORY/<class>/<image> (one folder per class, e.g. clear, partly, cloudy)."""
    from .train import train

    try:
        report = train(directory, out_dir, size=size, epochs=epochs, validation=validation, seed=seed,
                       quantize=quantize, log=None if as_json else (lambda line: click.echo(line, err=True)))
    except (ValueError, MissingExtra) as exc:
        raise click.ClickException(str(exc)) from None
    for message in report["skipped"]:
        click.echo(f"error: {message} (skipped)", err=True)
    if as_json:
        click.echo(json.dumps(report))
        return
    for name, n in report["counts"].items():
        click.echo(f"{name}: {n['train']} training, {n['validation']} validation images")
    click.echo(f"{report['epochs_run']} epochs in {report['seconds']} s; training accuracy "
               f"{report['train_accuracy']:.3f}")
    if report["validation"]:
        click.echo("validation: " + format_score(report["validation"]))
    else:
        click.echo("no validation images (--validation 0 or classes too small)")
    for path in report["files"].values():
        click.echo(f"wrote {path}")


@clouds_group.command("evaluate")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--detector", type=click.Choice(["classical", "ml"]), default="classical", show_default=True)
@click.option("--model", "ml_model", type=click.Path(exists=True), help="ml: the model (as for classify).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def evaluate_command(directory, detector, ml_model, as_json) -> None:
    """Accuracy and confusion matrix of a detector on DIRECTORY/<true label>/<image>."""
    chosen = _detector(detector, ml_model, center=None, radius=None, orientation=0.0, mask_path=None,
                       model_path=None, exposure=None, min_altitude=MIN_ALTITUDE,
                       reference_density=DEFAULT_REFERENCE_DENSITY)
    try:
        result = evaluate(directory, chosen)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for message in result["errors"]:
        click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps(result))
    elif result["count"]:
        click.echo(f"detector {chosen.name}: " + format_score(result))
    if not result["count"]:
        raise click.ClickException("no image could be classified")


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
