"""Broker credentials for one node: its RabbitMQ user, a new password and its scoped permissions.

The permission patterns are the ones deploy/ansible/roles/master/vars/main.yml gives the same
node (a test renders that file and compares), so an account made here by hand and one made by the
playbook allow exactly the same queues.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from common.contracts import NODE_NAME_PATTERN

ROLES = ("telescope", "observatory")
PASSWORD_CHARS = string.ascii_letters + string.digits  # the playbook's alphabet: no quoting trouble
PASSWORD_LENGTH = 32


@dataclass(frozen=True)
class BrokerAccount:
    name: str
    password: str
    configure: str
    write: str
    read: str


def permissions(node: str, role: str) -> tuple[str, str, str]:
    """(configure, write, read) regular expressions for ``node`` of ``role`` on the OBSY vhost."""
    if not re.fullmatch(NODE_NAME_PATTERN, node):
        raise ValueError(f"node name {node!r} must match {NODE_NAME_PATTERN}")
    node_re = node  # the name pattern admits no regex metacharacter (a lone "-" is literal)
    if role == "telescope":
        own = rf"obsy\.telescope\.{node_re}(\.DQ|\.XQ)?|obsy\.node\.{node_re}"
        shared = r"obsy\.ingest(\.DQ|\.XQ)?|obsy\.events(\.dead)?|amq\.gen-.*"
        return (f"^({own}|{shared})$", rf"^({own}|{shared}|amq\.default)$", rf"^({own}|obsy\.events|amq\.gen-.*)$")
    if role == "observatory":
        own = rf"obsy\.observatory\.{node_re}\..*"
        both = rf"^({own}|obsy\.events(\.dead)?|amq\.gen-.*)$"
        return both, both, rf"^({own}|obsy\.events|amq\.gen-.*)$"
    raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")


def new_account(node: str, role: str) -> BrokerAccount:
    configure, write, read = permissions(node, role)
    password = "".join(secrets.choice(PASSWORD_CHARS) for _ in range(PASSWORD_LENGTH))
    return BrokerAccount(f"obsy-{role}-{node}", password, configure, write, read)


def rabbitmqctl_lines(account: BrokerAccount, vhost: str = "obsy") -> list[str]:
    """Shell commands that create the account (run them where rabbitmqctl reaches the broker)."""
    q = shlex.quote
    return [f"rabbitmqctl add_user {q(account.name)} {q(account.password)}",
            f"rabbitmqctl set_permissions -p {q(vhost)} {q(account.name)} {q(account.configure)} "
            f"{q(account.write)} {q(account.read)}"]


def write_secret(account: BrokerAccount, secrets_dir) -> "Path":
    """Store the password where the playbook's password lookup reads it (``<dir>/rabbitmq-<user>``),
    so the next playbook run applies it; an existing file is never replaced."""
    path = Path(secrets_dir) / f"rabbitmq-{account.name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(account.password + "\n")
    return path


def amqp_url(account: BrokerAccount, host: str, port: int = 5672, vhost: str = "obsy") -> str:
    """The URL the node's config takes for its broker."""
    return (f"amqp://{quote(account.name, safe='')}:{quote(account.password, safe='')}@{host}:{port}/"
            f"{quote(vhost, safe='')}")
