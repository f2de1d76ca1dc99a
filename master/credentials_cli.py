"""``obsy master credentials create NODE --role ...``: a node's own, scoped credentials.

telescope and observatory nodes get a RabbitMQ account (and a telescope, with ``--store``, an
object-store policy for its ``incoming/<node>/`` prefix); the master and remote sites get a
Mosquitto account. Every password is shown once and stored only where asked.
"""
from __future__ import annotations

import click

from common.cli import load_role_config

BROKER_ROLES = ("telescope", "observatory")
MQTT_ROLES = ("master", "remote")


@click.group("credentials")
def credentials_group() -> None:
    """Credentials for the nodes, each scoped to what that node may do."""


@credentials_group.command("create")
@click.argument("node")
@click.option("--role", type=click.Choice(BROKER_ROLES + MQTT_ROLES), required=True,
              help="telescope/observatory: RabbitMQ account; master/remote: Mosquitto account")
@click.option("--vhost", default="obsy", show_default=True)
@click.option("--host", default="MASTER", show_default=True, help="broker host for the printed AMQP URL")
@click.option("--port", default=5672, show_default=True, type=click.IntRange(1, 65535))
@click.option("--secrets-dir", type=click.Path(file_okay=False),
              help="also store the RabbitMQ password for the Ansible playbook (its obsy_secrets_dir)")
@click.option("--mqtt-dir", type=click.Path(file_okay=False),
              help="master/remote: append the account to DIR/passwd and DIR/acl (Mosquitto's "
                   "password_file and acl_file)")
@click.option("--topic-prefix", default="obsy", show_default=True, help="the [mqtt] topic_prefix")
@click.option("--discovery-prefix", default="homeassistant", show_default=True,
              help="the [mqtt] discovery_prefix the master may also write")
@click.option("--store", is_flag=True, help="telescope: also an object-store key that may write only "
                                            "incoming/NODE/ (bucket and admin keys from the master's [store])")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="the master's TOML config, for --store (default ~/.config/obsy/master.toml)")
@click.option("--bucket", help="--store: the bucket (default: the master's [store] bucket)")
@click.option("--policy-file", type=click.Path(dir_okay=False), help="--store: write the policy JSON here")
@click.option("--iam-endpoint", help="--store: create the user, policy and key through this IAM API "
                                     "(AWS, Ceph RGW, moto) with the master's [store] keys; without it the "
                                     "MinIO 'mc admin' commands are printed")
def credentials_create_command(node, role, vhost, host, port, secrets_dir, mqtt_dir, topic_prefix,
                               discovery_prefix, store, config_path, bucket, policy_file, iam_endpoint) -> None:
    """Print new credentials for NODE and how to install them. Without --secrets-dir or --mqtt-dir
    nothing is stored: the password is shown only now."""
    if store and role != "telescope":
        raise click.UsageError("--store is for telescope nodes (only they upload frames)")
    if role in MQTT_ROLES:
        _mqtt_account(node, role, mqtt_dir, topic_prefix, discovery_prefix)
    else:
        _broker_account(node, role, vhost, host, port, secrets_dir)
    if store:
        _store_account(node, load_role_config("master", config_path).store, bucket, policy_file, iam_endpoint)


def _broker_account(node, role, vhost, host, port, secrets_dir) -> None:
    from .credentials import amqp_url, new_account, rabbitmqctl_lines, write_secret

    try:
        account = new_account(node, role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NODE") from None
    if secrets_dir:
        try:
            click.echo(f"# stored in {write_secret(account, secrets_dir)}", err=True)
        except FileExistsError as exc:
            raise click.ClickException(f"{exc.filename} exists; delete it to rotate the password") from None
    click.echo(f"# RabbitMQ user for {role} node {node}; the password is shown only now", err=True)
    click.echo(f"user={account.name} password={account.password}")
    for line in rabbitmqctl_lines(account, vhost):
        click.echo(line)
    click.echo(f"# the node's [broker] url:\n{amqp_url(account, host, port, vhost)}")


def _mqtt_account(node, role, mqtt_dir, topic_prefix, discovery_prefix) -> None:
    from .mqtt_credentials import acl_lines, add_to_files, new_mqtt_account, password_file_line

    try:
        account = new_mqtt_account(node, role, topic_prefix, discovery_prefix)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if mqtt_dir:
        try:
            passwd, acl = add_to_files(account, mqtt_dir)
        except FileExistsError as exc:
            raise click.ClickException(f"{exc.strerror}; remove its lines to rotate the password") from None
        click.echo(f"# added to {passwd} and {acl}; send mosquitto SIGHUP to reload them", err=True)
    click.echo(f"# Mosquitto user for {role} {node}; the password is shown only now", err=True)
    click.echo(f"user={account.name} password={account.password}")
    click.echo("# password_file line:")
    click.echo(password_file_line(account.name, account.password))
    click.echo("# acl_file lines:")
    for line in acl_lines(account)[:-1]:
        click.echo(line)
    click.echo(f'# the {role}\'s [mqtt] section:\nusername = "{account.name}"\npassword = "{account.password}"')


def _store_account(node, store_config, bucket, policy_file, iam_endpoint) -> None:
    from pathlib import Path

    from .store_credentials import IamError, create_with_iam, mc_admin_lines, new_store_account, policy_json

    try:
        account = new_store_account(node, bucket or store_config.bucket)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if policy_file:
        Path(policy_file).write_text(policy_json(account))
        click.echo(f"# policy written to {policy_file}", err=True)
    click.echo(f"# object-store policy {account.policy_name}:")
    click.echo(policy_json(account), nl=False)
    if iam_endpoint:
        try:
            account = create_with_iam(account, iam_endpoint, store_config.access_key, store_config.secret_key,
                                      store_config.region)
        except IamError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"# created user {account.user} with that policy through IAM at {iam_endpoint}")
    else:
        path = policy_file or f"{account.policy_name}.json"
        click.echo(f"# MinIO: {'' if policy_file else f'save the policy above as {path}, then '}run")
        for line in mc_admin_lines(account, path):
            click.echo(line)
    click.echo(f'# the node\'s [store] section (the secret is shown only now):\nbucket = "{account.bucket}"')
    click.echo(f'access_key = "{account.access_key}"\nsecret_key = "{account.secret_key}"')
