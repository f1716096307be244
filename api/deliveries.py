"""A job's webhook deliveries: each message with its attempts, and sending one again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select, update

from api.auth import protect
from api.db import get_session
from api.errors import ApiProblem
from api.job_access import load_job
from shared.db.base import utcnow
from shared.db.webhook_delivery import DeliveryStatus, WebhookDelivery

bp = Blueprint("deliveries", __name__, url_prefix="/v1/jobs")
protect(bp)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    """One delivery as the API shows it (never its body's signature or the key's secret)."""
    return {
        "id": str(delivery.id),
        "webhook_id": delivery.message_id,
        "event": f"job.{delivery.event}",
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _iso(delivery.created_at),
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "delivered_at": _iso(delivery.delivered_at),
        "history": delivery.history,
    }


@bp.get("/<job_id>/deliveries")
def deliveries(job_id: str) -> Response:
    """The job's webhook messages, oldest first, each with its attempts."""
    job = load_job(job_id)
    rows = get_session().scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.job_id == job.id)
        .order_by(WebhookDelivery.created_at)
    )
    return jsonify({"deliveries": [delivery_json(row) for row in rows]})


@bp.post("/<job_id>/deliveries/<delivery_id>/resend")
def resend(job_id: str, delivery_id: str) -> tuple[Response, int]:
    """Send a delivery again (the same ``webhook-id``, so receivers can tell it is a repeat);
    202, and it goes out within a second. One already pending is left as it is."""
    job = load_job(job_id, to_change=True)
    try:
        parsed = uuid.UUID(delivery_id)
    except ValueError:
        raise ApiProblem(404, "Not Found", f"no delivery {delivery_id!r} of this job") from None
    session = get_session()
    delivery = session.get(WebhookDelivery, parsed)
    if delivery is None or delivery.job_id != job.id:
        raise ApiProblem(404, "Not Found", f"no delivery {delivery_id} of this job")
    now = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == parsed,
            WebhookDelivery.status != DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, queued_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(delivery)
    return jsonify(delivery_json(delivery)), 202
