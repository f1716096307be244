"""Delivering one webhook: check the address again, sign, POST, and retry with backoff.

Runs in ``stylize webhooks`` (a Celery worker on the webhooks queue that loads no model). The
request goes to the very address that was checked (urllib3 pool on the IP, the URL's host as
``Host`` and TLS server name), so DNS rebinding cannot steer it to an internal one.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import urllib3
from celery import Task, shared_task
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.db.api_key import ApiKey
from shared.db.session import session_factory
from shared.settings import Settings, get_settings
from shared.task_names import DELIVER_WEBHOOK_TASK
from shared.webhook_address import (
    Resolver,
    WebhookAddressError,
    WebhookTarget,
    WebhookUnresolvable,
    check_webhook_url,
    resolve,
)
from shared.webhook_signature import delivery_headers

log = logging.getLogger(__name__)

RETRY_WINDOW_S = 3600.0  # retries stop this long after the event
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 900.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
RETRYABLE_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; ``retry_in`` is set when it should be tried again."""

    result: str  # delivered | retry | gave_up | rejected | refused | dropped
    detail: str
    retry_in: float | None = None


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt + 1``: 5, 10, 20, ... capped at 15 minutes."""
    return min(FIRST_RETRY_S * 2**attempt, MAX_RETRY_S)


def post(target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to the first of the target's checked addresses that accepts a connection."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    for number, address in enumerate(target.addresses, start=1):
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                timeout=timeout,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
        try:
            with pool:
                response = pool.urlopen(
                    "POST",
                    target.path,
                    body=body,
                    headers={**headers, "Host": host_header},
                    redirect=False,
                    retries=False,
                )
                return response.status
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            if number == len(target.addresses):
                raise
    raise ValueError("a checked target has at least one address")


def attempt_delivery(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    job_id: str,
    event: str,
    body: str,
    delivery_id: str,
    created_at: float,
    attempt: int,
    now: float,
    resolver: Resolver = resolve,
) -> Outcome:
    """One delivery attempt; decides between delivered, a retry, and giving up."""
    with sessions() as session:
        job = job_store.get_job(session, uuid.UUID(job_id))
        key = session.get(ApiKey, job.owner_id) if job is not None else None
    url = job.params.get("webhook_url") if job is not None else None
    if job is None or key is None or not url:
        return Outcome("dropped", "the job or its key is gone")
    if key.revoked_at is not None or key.webhook_secret is None:
        return Outcome("dropped", "the job's key was revoked or has no webhook secret")
    try:
        target = check_webhook_url(url, settings.webhook_allow_list(), resolver)
    except WebhookUnresolvable as exc:
        return retry_or_give_up(str(exc), attempt, created_at, now)
    except WebhookAddressError as exc:
        return Outcome("refused", str(exc))
    payload = body.encode()
    headers = delivery_headers(
        key.webhook_secret, payload, event=event, delivery_id=delivery_id, timestamp=int(now)
    )
    try:
        status = post(target, payload, headers)
    except urllib3.exceptions.HTTPError as exc:
        return retry_or_give_up(f"no answer ({type(exc).__name__})", attempt, created_at, now)
    if 200 <= status < 300:
        return Outcome("delivered", f"HTTP {status}")
    if status in RETRYABLE_STATUSES:
        return retry_or_give_up(f"HTTP {status}", attempt, created_at, now)
    return Outcome("rejected", f"HTTP {status}; the receiver refused it, not retried")


def retry_or_give_up(detail: str, attempt: int, created_at: float, now: float) -> Outcome:
    """A retry after the backoff delay, unless that falls past the hour after the event."""
    delay = retry_delay(attempt)
    if now + delay > created_at + RETRY_WINDOW_S:
        return Outcome("gave_up", f"{detail}; retried for an hour")
    return Outcome("retry", detail, retry_in=delay)


@shared_task(name=DELIVER_WEBHOOK_TASK, bind=True, ignore_result=True, acks_late=True)
def deliver_webhook(
    self: Task, job_id: str, event: str, body: str, delivery_id: str, created_at: float
) -> str:
    """Celery entry point: attempt the delivery, and schedule the next attempt if needed."""
    settings = get_settings()
    attempt = self.request.retries
    outcome = attempt_delivery(
        session_factory(settings.database_url),
        settings,
        job_id=job_id,
        event=event,
        body=body,
        delivery_id=delivery_id,
        created_at=created_at,
        attempt=attempt,
        now=time.time(),
    )
    log.info(
        "webhook %s of job %s (delivery %s, attempt %d): %s, %s",
        event,
        job_id,
        delivery_id,
        attempt + 1,
        outcome.result,
        outcome.detail,
    )
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.result
