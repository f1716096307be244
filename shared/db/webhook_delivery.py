"""The webhook outbox: one row per message to deliver, written with the change it announces.

A row is inserted in the same transaction as the job's status change (``shared/job_end.py``),
so a committed end always has its ``completed`` delivery; ``stylize webhooks`` sends due rows
and records every attempt on them. The row keeps the URL, owner and body it was made with, so
it outlives the job (a deleted job's last delivery still goes out).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow

ATTEMPTS_KEPT = 20  # the newest attempts a delivery shows


class DeliveryStatus(enum.StrEnum):
    """``pending`` until sent; then ``delivered``, or ``failed`` (refused, rejected or retried
    until the window closed), or ``dropped`` (its key was revoked)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DROPPED = "dropped"


class WebhookDelivery(Base):
    """One message (``webhook-id`` = ``msg_<id hex>``) and its attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_job", "job_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    # A sender holds the row until then; another may take it over once it has passed.
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it was queued or last resent: retries stop RETRY_WINDOW after this.
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: the same on every attempt and on a resend."""
        return f"msg_{self.id.hex}"
