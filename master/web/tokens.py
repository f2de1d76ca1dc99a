"""API tokens: created for a user, shown once, kept only as a SHA-256, revocable."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from master.models import ApiToken, User, utcnow

SCOPES = ("read", "write")
PREFIX = "obsy_"


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain hash is enough (no salt or stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session, user: User, name: str, scope: str = "read") -> tuple[ApiToken, str]:
    """A new token row (added, not committed) and the token itself, which is not stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise TokenError("the token name must be 1 to 80 characters long")
    if scope not in SCOPES:
        raise TokenError(f"unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")
    if scope == "write" and user.role == "guest":
        raise TokenError("a guest may only have read tokens")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), scope=scope)
    session.add(row)
    return row, token


def revoke(row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def lookup(session, token: str) -> ApiToken | None:
    """The live token row (its user active), marked as used now; None for anything else."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    session.commit()
    return row


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
