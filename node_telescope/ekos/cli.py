"""``obsy ekos``: read and write KStars/EKOS scheduler lists and sequence queues."""
from __future__ import annotations

import json
from pathlib import Path

import click

from common.ekos.build import ScheduleError, build_files
from common.ekos.codec import read_file
from common.ekos.model import SchedulerList, SequenceQueue, to_dict
from common.ekos.xmlio import MAX_FILE_BYTES, EkosFileError, fmt_number


@click.group("ekos")
def ekos_group() -> None:
    """KStars/EKOS files: scheduler lists (.esl) and sequence queues (.esq)."""


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{fmt_number(value)}{unit}"


def _preserved(obj: SchedulerList | SequenceQueue) -> int:
    return len(obj.extras) + len(obj.extra_attrs) + sum(len(j.extras) + len(j.extra_attrs) for j in obj.jobs)


def summarize(obj: SchedulerList | SequenceQueue) -> str:
    """A short human-readable account of a parsed file."""
    lines: list[str] = []
    if isinstance(obj, SchedulerList):
        lines.append(f"scheduler list, version {obj.version}, profile {obj.profile or '-'}, {len(obj.jobs)} job(s)")
        for n, job in enumerate(obj.jobs, 1):
            c = job.constraints
            completion = "-" if job.completion is None else job.completion.kind + (
                f" {job.completion.value}" if job.completion.value else "")
            flags = [name for name, on in (("twilight", c.enforce_twilight), ("weather", c.enforce_weather),
                                           ("horizon", c.enforce_artificial_horizon)) if on]
            lines.append(
                f"  {n}. {job.name}: RA {_num(job.ra_hours, 'h')} Dec {_num(job.dec_deg, '°')}"
                + (f" priority {job.priority}" if job.priority is not None else "")
                + f", min alt {_num(c.min_altitude, '°')}"
                + (f", moon sep {_num(c.moon_separation, '°')}" if c.moon_separation is not None else "")
                + (f", enforce {'+'.join(flags)}" if flags else "")
                + f", until {completion}, steps {','.join(job.steps) or '-'}"
                + f", sequence {job.sequence or '-'}")
        for label, procedures in (("startup", obj.startup_procedure), ("shutdown", obj.shutdown_procedure)):
            if procedures:
                lines.append(f"  {label}: {', '.join(p.name for p in procedures)}")
    else:
        lines.append(f"sequence queue, version {obj.version}, {len(obj.jobs)} job(s)"
                     + (f", observer {obj.observer}" if obj.observer else ""))
        for n, job in enumerate(obj.jobs, 1):
            lines.append(
                f"  {n}. {job.frame_type} {job.count} x {_num(job.exposure, 's')}"
                f" filter {job.filter or '-'} bin {job.bin_x}x{job.bin_y}"
                + (f" gain {_num(job.gain)}" if job.gain is not None else "")
                + (f" offset {_num(job.offset)}" if job.offset is not None else "")
                + (f" temp {_num(job.temperature, '°C')}" if job.temperature is not None else "")
                + (f" -> {job.fits_directory}" if job.fits_directory else ""))
    preserved = _preserved(obj)
    if preserved:
        lines.append(f"  ({preserved} element(s)/attribute(s) not modelled, kept as they are)")
    return "\n".join(lines)


@ekos_group.command("read")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parsed file as JSON.")
def read_command(path: Path, as_json: bool) -> None:
    """Parse an .esl or .esq FILE and print what it says."""
    try:
        obj = read_file(path)
    except EkosFileError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(to_dict(obj), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{path}: " + summarize(obj))


@ekos_group.command("write")
@click.argument("schedule", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the .esl and .esq files (created if missing).")
def write_command(schedule: Path, out_dir: Path) -> None:
    """Build EKOS files from an OBSY SCHEDULE.json."""
    try:
        if schedule.stat().st_size > MAX_FILE_BYTES:
            raise click.ClickException(f"{schedule}: schedule file is larger than {MAX_FILE_BYTES} bytes")
        data = json.loads(schedule.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"{schedule}: cannot read file: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{schedule}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{schedule}: the schedule must be a JSON object")
    try:
        esl, sequences = build_files(data, out_dir)
    except (ScheduleError, EkosFileError) as exc:
        raise click.ClickException(f"{schedule}: {exc}") from None
    click.echo(f"scheduler list: {esl}")
    for name, path in sequences.items():
        click.echo(f"sequence for {name}: {path}")
