"""``obsy targets import|export``: the portal's target lists without the portal."""
from __future__ import annotations

from pathlib import Path

import click

from common.cli import load_role_config
from .cli import CONFIG_OPTION


@click.group("targets")
def targets_group() -> None:
    """Targets: import KStars observing lists (OAL XML) and CSV, export CSV."""


@targets_group.command("import")
@CONFIG_OPTION
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True, help="Targets already there take the file's values (tags are merged).")
@click.option("--skip-bad", is_flag=True, help="Import the good entries even if some are bad.")
@click.option("--tags", default="", help="Comma-separated tags for every imported target.")
@click.option("--public", is_flag=True, help="Make imported targets public where the file does not say.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; write nothing.")
def import_command(config_path, path, update, skip_bad, tags, public, dry_run) -> None:
    """Import PATH: a KStars observing list (.obslist, OAL XML) or a CSV (name, ra, dec, ...)."""
    from .services import MasterServices
    from .target_files import TargetFileError, parse_target_file
    from .target_import import import_targets

    try:
        parsed = parse_target_file(path.read_bytes(), path.name)
    except TargetFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    services = MasterServices(load_role_config("master", config_path), bus=None)
    try:
        with services.sessions() as session:
            report = import_targets(session, parsed, update=update, skip_bad=skip_bad, dry_run=dry_run,
                                    tags=sorted({t.strip() for t in tags.split(",") if t.strip()}) or None,
                                    public=True if public else None)
            for message in report.errors:
                click.echo(f"bad: {message}", err=True)
            for message in report.skipped:
                click.echo(f"skipped: {message}")
            for message in report.notes:
                click.echo(f"note: {message}")
            if report.applied:
                session.commit()
    finally:
        services.close()
    if not report.applied and not dry_run:
        raise click.ClickException(f"{path.name}: {report.summary()} (--skip-bad)")
    click.echo(f"{path.name}: {report.summary()}")


@targets_group.command("export")
@CONFIG_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output.")
def export_command(config_path, out) -> None:
    """Every target as CSV (the columns import reads back)."""
    from .services import MasterServices
    from .targets import export_csv

    services = MasterServices(load_role_config("master", config_path), bus=None)
    try:
        with services.sessions() as session:
            text = export_csv(session)
    finally:
        services.close()
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{text.count(chr(10)) - 1} targets written to {out}")
    else:
        click.echo(text, nl=False)
