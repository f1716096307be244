"""Putting deliveries in the outbox, in the caller's transaction (never committed here).

Each message is a Standard Webhooks payload: ``{"type": "job.<event>", "timestamp", "data"}``
with the job document as ``data``, frozen as it was when the event happened.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.db.job import Job
from shared.db.webhook_delivery import WebhookDelivery
from shared.job_document import job_document


def wants(job: Job, event: str) -> bool:
    """Whether the job has a ``webhook_url`` and asked for ``event``."""
    return bool(job.params.get("webhook_url")) and event in job.params.get("webhook_events", ())


def payload(job: Job, event: str, at: datetime, live: dict[str, Any] | None = None) -> str:
    """The message body: the event type, when it happened and the job document."""
    document = job_document(job, live).model_dump(mode="json", by_alias=True)
    message = {"type": f"job.{event}", "timestamp": at.isoformat(), "data": document}
    return json.dumps(message, separators=(",", ":"))


def queue_delivery(
    session: Session, job: Job, event: str, live: dict[str, Any] | None = None
) -> WebhookDelivery | None:
    """Add ``event``'s delivery to ``session`` if the job asked for it; the caller commits."""
    if not wants(job, event):
        return None
    now = utcnow()
    delivery = WebhookDelivery(
        job_id=job.id,
        owner_id=job.owner_id,
        event=event,
        url=job.params["webhook_url"],
        body=payload(job, event, now, live),
        created_at=now,
        queued_at=now,
        next_attempt_at=now,
        history=[],
    )
    session.add(delivery)
    return delivery
