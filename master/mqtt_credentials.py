"""Mosquitto credentials for the master and each remote site: a password-file entry and ACL lines.

Mosquitto 2 reads ``password_file`` lines ``user:$7$<iterations>$<salt>$<hash>`` (PBKDF2-SHA512,
base64; what ``mosquitto_passwd`` writes) and an ``acl_file`` of ``user`` blocks with ``topic
read|write|readwrite <filter>`` lines. The master only writes the live topics (and Home
Assistant's discovery configs); a remote site only reads them. Nothing else may touch the broker.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from common.config import MQTT_NAME_PATTERN
from common.contracts import NODE_NAME_PATTERN
from .credentials import PASSWORD_CHARS, PASSWORD_LENGTH

MQTT_ROLES = ("master", "remote")
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12


@dataclass(frozen=True)
class MqttAccount:
    name: str
    password: str
    role: str
    topics: tuple[tuple[str, str], ...]  # (access, topic filter)


def topic_rules(role: str, prefix: str = "obsy", discovery_prefix: str = "homeassistant") -> tuple[tuple[str, str], ...]:
    for value in (prefix, discovery_prefix):
        if not re.fullmatch(MQTT_NAME_PATTERN, value):
            raise ValueError(f"topic prefix {value!r} must match {MQTT_NAME_PATTERN}")
    if role == "master":
        return (("write", f"{prefix}/#"), ("write", f"{discovery_prefix}/#"))
    if role == "remote":
        return (("read", f"{prefix}/#"),)
    raise ValueError(f"MQTT role must be one of {', '.join(MQTT_ROLES)}, got {role!r}")


def new_mqtt_account(node: str, role: str, prefix: str = "obsy",
                     discovery_prefix: str = "homeassistant") -> MqttAccount:
    if not re.fullmatch(NODE_NAME_PATTERN, node):
        raise ValueError(f"node name {node!r} must match {NODE_NAME_PATTERN}")
    rules = topic_rules(role, prefix, discovery_prefix)
    password = "".join(secrets.choice(PASSWORD_CHARS) for _ in range(PASSWORD_LENGTH))
    return MqttAccount(f"obsy-{role}-{node}", password, role, rules)


def password_file_line(name: str, password: str, salt: bytes | None = None) -> str:
    """One ``password_file`` line, as ``mosquitto_passwd -b`` would write it."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"{name}:$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def acl_lines(account: MqttAccount) -> list[str]:
    return [f"user {account.name}", *(f"topic {access} {pattern}" for access, pattern in account.topics), ""]


def _users_in(password_file: Path) -> set[str]:
    if not password_file.exists():
        return set()
    return {line.split(":", 1)[0] for line in password_file.read_text().splitlines() if ":" in line}


def add_to_files(account: MqttAccount, directory) -> tuple[Path, Path]:
    """Append the account to ``<dir>/passwd`` and ``<dir>/acl`` (created mode 0600); an account
    already in the password file is refused (FileExistsError), so a password is never silently
    replaced. Mosquitto rereads both files on SIGHUP."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    passwd, acl = directory / "passwd", directory / "acl"
    if account.name in _users_in(passwd):
        raise FileExistsError(0, f"{account.name} is already in {passwd}", str(passwd))
    for path, text in ((passwd, password_file_line(account.name, account.password) + "\n"),
                       (acl, "\n".join(acl_lines(account)) + "\n")):
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as out:
            out.write(text)
    return passwd, acl
