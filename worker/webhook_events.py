"""Queueing a job's webhook deliveries (``running``, ``progress`` per 10 %, ``completed``).

The job's worker only queues them, as messages on the webhooks queue; the HTTP requests run in
``stylize webhooks`` (worker/webhook_delivery.py). A failure to queue is logged, never raised:
webhooks must not slow or fail the job.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from celery import Celery

from shared.broker import celery_options
from shared.db.job import Job
from shared.job_json import job_json
from shared.settings import Settings
from shared.task_names import DELIVER_WEBHOOK_TASK
from worker.engine.hooks import Progress, ProgressHook, Stop
from worker.progress_reporter import ProgressReporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookDelivery:
    """One event to deliver: the job JSON as it was then, and an id kept across retries."""

    job_id: str
    event: str
    body: str
    delivery_id: str
    created_at: float


WebhookSender = Callable[[WebhookDelivery], None]


def celery_webhook_sender(settings: Settings) -> WebhookSender:
    """A sender that puts ``DELIVER_WEBHOOK_TASK(**delivery)`` on the webhooks queue."""
    client = Celery("stylize-webhook-sender")
    client.conf.update(celery_options(settings))

    def send(delivery: WebhookDelivery) -> None:
        client.send_task(
            DELIVER_WEBHOOK_TASK,
            kwargs=asdict(delivery),
            queue=settings.webhook_queue,
            retry=False,
        )

    return send


def wants(job: Job, event: str) -> bool:
    """Whether the job has a webhook_url and asked for ``event``."""
    return bool(job.params.get("webhook_url")) and event in job.params.get("webhook_events", ())


def queue_webhook(
    sender: WebhookSender | None, job: Job, event: str, live: dict[str, Any] | None = None
) -> None:
    """Queue ``event`` with the job's JSON if the job asked for it; log, never raise, on error."""
    if sender is None or not wants(job, event):
        return
    try:
        body = json.dumps(job_json(job, live), separators=(",", ":"))
        sender(WebhookDelivery(str(job.id), event, body, str(uuid.uuid4()), time.time()))
    except Exception:
        log.warning("could not queue the %s webhook of job %s", event, job.id, exc_info=True)


def with_progress_webhooks(
    reporter: ProgressReporter, job: Job, sender: WebhookSender | None
) -> ProgressHook:
    """``reporter``, plus a ``progress`` delivery (its latest event) each time the job passes
    another 10 %."""
    if sender is None or not wants(job, "progress"):
        return reporter
    passed = 0

    def on_progress(progress: Progress) -> Stop | None:
        nonlocal passed
        stop = reporter(progress)
        tenths = progress.iteration * 10 // progress.total
        if tenths > passed:
            passed = tenths
            queue_webhook(sender, job, "progress", reporter.last_event)
        return stop

    return on_progress
