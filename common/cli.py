"""The ``obsy`` command. Role subcommands arrive through ``obsy.commands`` entry points."""
from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points, version
from pathlib import Path

import click

from .config import ROLE_CONFIGS, ConfigError, load_config


def load_role_config(role: str, path: str | None):
    """Load and validate a role's config, or stop with the reason."""
    try:
        return load_config(role, path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


class RoleGroup(click.Group):
    def _commands(self):
        return {ep.name: ep for ep in entry_points(group="obsy.commands")}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._commands()))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in self._commands():
            command = self._commands()[name].load()
        return command


@click.group(cls=RoleGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def obsy(verbose: bool) -> None:
    """OBSY: observatory management for amateur astronomers."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("pika", "urllib3", "dramatiq", "waitress"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


@obsy.command("version")
def version_command() -> None:
    """Print the installed version."""
    click.echo(version("obsy"))


@obsy.group("config")
def config_group() -> None:
    """Inspect and check configuration."""


@config_group.command("example")
@click.argument("role", type=click.Choice(sorted(ROLE_CONFIGS)))
def config_example(role: str) -> None:
    """Print a commented example config for ROLE."""
    from .config_example import example

    click.echo(example(role))


@config_group.command("check")
@click.argument("role", type=click.Choice(sorted(ROLE_CONFIGS)))
@click.option("--config", "path", type=click.Path(dir_okay=False), help="TOML file (default ~/.config/obsy/ROLE.toml)")
def config_check(role: str, path: str | None) -> None:
    """Validate ROLE's config file and environment overrides."""
    config = load_role_config(role, path)
    click.echo(config.model_dump_json(indent=2))


@obsy.command("demo")
@click.option("--port", default=8000, show_default=True, help="Portal port on 127.0.0.1.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps its database, repository and spool.")
def demo_command(port: int, data_dir: Path | None) -> None:
    """Run every role in one process on the embedded defaults, with simulated devices."""
    from .demo import run_demo

    run_demo(data_dir, port)


def main() -> None:
    try:
        obsy(prog_name="obsy")
    except KeyboardInterrupt:
        sys.exit(130)
