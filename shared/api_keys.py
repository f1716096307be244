"""API keys: create (the secret is shown once; admin or not; own limits), authenticate by
hash, list, revoke."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.db.api_key import ApiKey
from shared.db.base import utcnow
from shared.webhooks.signing import new_secret

SECRET_PREFIX = "sty_"
DISPLAY_PREFIX_LENGTH = 12
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)


class ApiKeyError(ValueError):
    """A key operation got a bad name or identifier; the message says what to pass."""


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a secret; secrets are random and long, so no salt or stretching."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    name: str,
    *,
    admin: bool = False,
    max_active_jobs: int | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key named ``name``; return the row and the secret (never stored).

    An ``admin`` key may list and read every key's jobs. The limits default (None) to the
    STYLIZE_MAX_ACTIVE_JOBS_PER_KEY and STYLIZE_RATE_LIMIT_PER_MINUTE settings. The row's
    ``webhook_secret`` is new too; like the secret, it is shown to the user only once.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiKeyError("a key name must be 1-100 characters")
    for label, limit in (
        ("max active jobs", max_active_jobs),
        ("rate limit per minute", rate_limit_per_minute),
    ):
        if limit is not None and limit < 1:
            raise ApiKeyError(f"the {label} must be at least 1 (leave it out for the default)")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        secret_hash=hash_secret(secret),
        webhook_secret=new_secret(),
        is_admin=admin,
        max_active_jobs=max_active_jobs,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(key)
    session.commit()
    return key, secret


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key whose secret is ``secret``, or None for unknown or revoked keys."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret)))
    return key if key is not None and key.revoked_at is None else None


def list_keys(session: Session) -> Sequence[ApiKey]:
    """All keys, oldest first, revoked ones included."""
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def revoke_key(session: Session, id_or_prefix: str) -> bool:
    """Revoke the key with this id or display prefix; False if none matches or already revoked."""
    key = find_live_key(session, id_or_prefix)
    if key is None:
        return False
    key.revoked_at = utcnow()
    session.commit()
    return True


def find_live_key(session: Session, id_or_prefix: str) -> ApiKey | None:
    """The one unrevoked key with this id or display prefix, or None."""
    try:
        match = ApiKey.id == uuid.UUID(id_or_prefix)
    except ValueError:
        if not id_or_prefix.startswith(SECRET_PREFIX):
            raise ApiKeyError(
                f"{id_or_prefix!r} is neither a key id (UUID) nor a key prefix (sty_...)"
            ) from None
        match = ApiKey.prefix == id_or_prefix
    keys = session.scalars(select(ApiKey).where(or_(match), ApiKey.revoked_at.is_(None))).all()
    return keys[0] if len(keys) == 1 else None


def rotate_webhook_secret(
    session: Session, key: ApiKey, overlap: timedelta = DEFAULT_SECRET_OVERLAP
) -> str:
    """Give ``key`` a new webhook secret and return it; the old one keeps signing deliveries
    (beside the new) for ``overlap``, so receivers can switch without losing any."""
    if key.webhook_secret is not None and overlap > timedelta(0):
        key.previous_webhook_secret = key.webhook_secret
        key.previous_webhook_secret_until = utcnow() + overlap
    else:
        key.previous_webhook_secret = key.previous_webhook_secret_until = None
    key.webhook_secret = new_secret()
    session.commit()
    return key.webhook_secret
