"""API keys: a hashed secret, a webhook signing secret, a name, admin or not, its own limits,
and when it was made or revoked."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class ApiKey(Base):
    """A bearer key; only the SHA-256 of its secret is stored.

    ``webhook_secret`` signs this key's webhook deliveries. Signing needs the secret itself, so
    it is stored as it is (it grants no access to the API; a leak lets someone forge deliveries
    to this key's receivers, who can confirm any delivery by reading the job). Keys made before
    webhooks existed have none and cannot use webhooks.
    """

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # After a rotation the old secret also signs until ``previous_webhook_secret_until``.
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(64))
    previous_webhook_secret_until: Mapped[datetime | None] = mapped_column()
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Per-key limits; None: the STYLIZE_* defaults.
    max_active_jobs: Mapped[int | None] = mapped_column()
    rate_limit_per_minute: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
