"""Master subcommands: ``obsy master web|worker|migrate|create-admin|user|token|credentials`` and
``obsy ingest``."""
from __future__ import annotations

import json
import sys

import click

from common.cli import load_role_config
from .credentials_cli import credentials_group

CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                             help="TOML config (default ~/.config/obsy/master.toml).")


@click.group("master")
def master_group() -> None:
    """The master: portal, workers, database."""


master_group.add_command(credentials_group)


@master_group.command("web")
@CONFIG_OPTION
@click.option("--bind", help="host:port (default from [web] in the config).")
@click.option("--workers", type=int, help="gunicorn worker processes.")
def web_command(config_path, bind, workers) -> None:
    """Serve the portal with gunicorn."""
    from .serve import serve_gunicorn

    config = load_role_config("master", config_path)
    serve_gunicorn(config, bind or f"{config.web.host}:{config.web.port}", workers or config.web.workers)


@master_group.command("worker")
@CONFIG_OPTION
@click.option("--processes", type=int, help="Worker processes (default from [worker]).")
@click.option("--threads", type=int, help="Threads per process (default from [worker]).")
def worker_command(config_path, processes, threads) -> None:
    """Run ingest and processing jobs."""
    from .worker import supervise

    config = load_role_config("master", config_path)
    supervise(config, config_path, processes or config.worker.processes, threads or config.worker.threads)


@master_group.command("migrate")
@CONFIG_OPTION
def migrate_command(config_path) -> None:
    """Bring the database schema up to date."""
    from .migrate import upgrade

    config = load_role_config("master", config_path)
    upgrade(config.database.resolved_url())
    click.echo("database is at the newest schema")


@master_group.command("create-admin")
@CONFIG_OPTION
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin_command(config_path, username, password) -> None:
    """Create an admin user for the portal."""
    from .services import MasterServices
    from .web.auth import UserError, create_user

    services = MasterServices(load_role_config("master", config_path), bus=None)
    try:
        create_user(services.sessions, username, password, role="admin")
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"admin {username} created")


def _services(config_path):
    from .services import MasterServices

    return MasterServices(load_role_config("master", config_path), bus=None)


@master_group.group("user")
def user_group() -> None:
    """Portal users (admins can also manage them on the Users page)."""


@user_group.command("create")
@CONFIG_OPTION
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "observer", "guest"]), default="observer", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_create_command(config_path, username, role, password) -> None:
    """Create a portal user."""
    from .web.auth import UserError, create_user

    services = _services(config_path)
    try:
        create_user(services.sessions, username, password, role=role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()
    click.echo(f"{role} {username} created")


@user_group.command("list")
@CONFIG_OPTION
def user_list_command(config_path) -> None:
    """List portal users."""
    from sqlalchemy import select

    from .models import User

    services = _services(config_path)
    with services.sessions() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            click.echo(f"{user.id}\t{user.username}\t{user.role}\t{'active' if user.active else 'deactivated'}")
    services.close()


@master_group.group("token")
def token_group() -> None:
    """API tokens for scripts (sent as "Authorization: Bearer <token>" to /api/v1)."""


@token_group.command("create")
@CONFIG_OPTION
@click.argument("username")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True)
def token_create_command(config_path, username, name, scope) -> None:
    """Create a token for USERNAME and print it (this is the only time it is shown)."""
    from sqlalchemy import select

    from .models import User
    from .web.tokens import TokenError, create_token

    services = _services(config_path)
    try:
        with services.sessions() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user named {username!r}")
            try:
                row, token = create_token(session, user, name, scope)
            except TokenError as exc:
                raise click.ClickException(str(exc)) from None
            session.commit()
            click.echo(f"token {row.id} ({scope}) for {username}; it is shown only now:", err=True)
            click.echo(token)
    finally:
        services.close()


@token_group.command("revoke")
@CONFIG_OPTION
@click.argument("token_id", type=int)
def token_revoke_command(config_path, token_id) -> None:
    """Revoke the token with id TOKEN_ID."""
    from .models import ApiToken
    from .web.tokens import revoke

    services = _services(config_path)
    try:
        with services.sessions() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise click.ClickException(f"no token with id {token_id}")
            revoke(row)
            session.commit()
    finally:
        services.close()
    click.echo(f"token {token_id} revoked")


def queue_solex(services):
    from common import names
    from common.contracts import SolexJob
    from common.jobs import send_science_job

    return lambda capture_id: send_science_job(services.job_broker, names.SOLEX_ACTOR,
                                               SolexJob(ser_capture_id=capture_id))


@click.command("ingest")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, one line per file.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def ingest_command(config_path, as_json, paths) -> None:
    """Import FITS files, SER videos and folders (.fits .fit .fts .fz, gzip, .ser) into the repository.

    A new SER video is filed and its Sol'ex reconstruction is queued for the master worker."""
    from tqdm import tqdm

    from .ingest.local import collect, ingest_paths
    from .services import MasterServices

    services = MasterServices(load_role_config("master", config_path))
    files = collect(paths)
    counts = {"ingested": 0, "duplicate": 0, "rejected": 0}
    progress = tqdm(total=len(files), unit="file", file=sys.stderr, disable=not sys.stderr.isatty())
    for row in ingest_paths(services, files, on_ser=queue_solex(services)):
        counts[row["status"]] += 1
        progress.update(1)
        if as_json:
            click.echo(json.dumps(row))
        elif row["status"] == "rejected":
            progress.write(f"rejected {row['path']}: {row['reason']}", file=sys.stderr)
    progress.close()
    if not as_json:
        click.echo(f"{counts['ingested']} ingested, {counts['duplicate']} duplicate, {counts['rejected']} rejected")
    services.close()
