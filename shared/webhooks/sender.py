"""``stylize webhooks``: send the outbox's due deliveries, retrying with backoff.

Every pass takes due rows (``pending``, ``next_attempt_at`` passed, no live lease) oldest
first, leases each with a compare-and-set (several senders may run), and hands it to a thread
pool. At most ``per_key`` deliveries of one API key are in flight at once in a sender, so a
slow receiver delays only its own key's messages; an attempt costs at most ``deadline_s``
(shared/webhooks/delivery.py). Each attempt is recorded on the row: status code or error, time
and duration, the newest ``ATTEMPTS_KEPT`` of them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.api_key import ApiKey
from shared.db.base import utcnow
from shared.db.webhook_delivery import ATTEMPTS_KEPT, DeliveryStatus, WebhookDelivery
from shared.webhooks.address import (
    AllowList,
    Resolver,
    WebhookAddressError,
    WebhookUnresolvable,
    check_webhook_url,
    resolve,
)
from shared.webhooks.delivery import NoAnswer, post
from shared.webhooks.signing import delivery_headers, signing_secrets

log = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=1)  # retries stop this long after the message was queued
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 900.0
LEASE_MARGIN_S = 30.0
BATCH = 100
RETRYABLE_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


def _nothing() -> None:
    pass


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after number ``attempt`` (1-based): 5, 10, 20 ... 900."""
    return min(FIRST_RETRY_S * 2 ** (attempt - 1), MAX_RETRY_S)


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: the row's next status, and when to try again if it stays pending."""

    status: DeliveryStatus
    status_code: int | None
    error: str | None
    retry_at: datetime | None = None


def judge(
    status_code: int | None, error: str | None, attempt: int, queued_at: datetime, now: datetime
) -> Outcome:
    """2xx: delivered. No answer, 408, 429, 5xx: again after the backoff, unless that falls past
    the retry window. Any other answer: failed, not retried (the receiver refused it)."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome(DeliveryStatus.DELIVERED, status_code, None)
    if status_code is None or status_code in RETRYABLE_STATUSES:
        retry_at = now + timedelta(seconds=retry_delay(attempt))
        if retry_at > queued_at + RETRY_WINDOW:
            return Outcome(DeliveryStatus.FAILED, status_code, f"{error}; retried for an hour")
        return Outcome(DeliveryStatus.PENDING, status_code, error, retry_at)
    return Outcome(DeliveryStatus.FAILED, status_code, error)


class Sender:
    """Sends due deliveries from a thread pool, ``per_key`` at most per API key."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        allow: AllowList,
        *,
        threads: int = 16,
        per_key: int = 2,
        deadline_s: float = 15.0,
        resolver: Resolver = resolve,
    ) -> None:
        self.sessions, self.allow, self.resolver = sessions, allow, resolver
        self.threads, self.per_key, self.deadline_s = threads, per_key, deadline_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._in_flight: Counter[uuid.UUID] = Counter()

    def close(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, let the attempts in flight finish (each is bounded)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def run(
        self, stop: threading.Event, interval_s: float = 0.5, beat: Callable[[], None] = _nothing
    ) -> None:
        """Pass after pass until ``stop`` is set; ``beat()`` after each (a liveness signal)."""
        while not stop.is_set():
            try:
                self.dispatch()
            except Exception:  # the database hiccuped: the next pass tries again
                log.warning("webhook pass failed", exc_info=True)
            beat()
            stop.wait(interval_s)

    def dispatch(self) -> int:
        """Lease due deliveries and start their attempts; how many were started."""
        now = utcnow()
        started = 0
        with self.sessions() as session:
            due = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(BATCH)
            ).all()
            for delivery in due:
                if self.busy() >= self.threads:
                    break
                if not self._reserve(delivery.owner_id):
                    continue  # this key has per_key in flight: its others wait their turn
                lease = self._lease(session, delivery, now)
                if lease is None:
                    self._release(delivery.owner_id)
                    continue
                self._pool.submit(self._attempt, delivery.id, delivery.owner_id, lease)
                started += 1
        return started

    def busy(self) -> int:
        """Attempts in flight."""
        with self._lock:
            return sum(self._in_flight.values())

    def _reserve(self, owner: uuid.UUID) -> bool:
        with self._lock:
            if self._in_flight[owner] >= self.per_key:
                return False
            self._in_flight[owner] += 1
            return True

    def _release(self, owner: uuid.UUID) -> None:
        with self._lock:
            self._in_flight[owner] -= 1
            if self._in_flight[owner] <= 0:
                del self._in_flight[owner]

    def _lease(self, session: Session, delivery: WebhookDelivery, now: datetime) -> datetime | None:
        """Compare-and-set the row's lease to ours (and count the attempt); None if taken."""
        lease = now + timedelta(seconds=self.deadline_s + LEASE_MARGIN_S)
        result = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            )
            .values(lease_until=lease, attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return lease if result.rowcount == 1 else None

    def _attempt(self, delivery_id: uuid.UUID, owner: uuid.UUID, lease: datetime) -> None:
        try:
            self.attempt(delivery_id, lease)
        except Exception:  # recorded nothing: the lease runs out and another pass retries
            log.exception("webhook delivery %s: attempt failed unexpectedly", delivery_id)
        finally:
            self._release(owner)

    def attempt(self, delivery_id: uuid.UUID, lease: datetime) -> Outcome | None:
        """Send one leased delivery and record the attempt; None if the lease was lost."""
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            key = session.get(ApiKey, delivery.owner_id) if delivery is not None else None
        if delivery is None:
            return None
        started = time.monotonic()
        now = utcnow()
        if key is None or key.revoked_at is not None:
            outcome = Outcome(DeliveryStatus.DROPPED, None, "the job's API key was revoked")
        else:
            outcome = self._send(delivery, key, now)
        took_ms = round((time.monotonic() - started) * 1000, 1)
        recorded = record(self.sessions, delivery, lease, outcome, now, took_ms)
        log.info(
            "webhook %s of job %s (%s, attempt %d): %s, HTTP %s, %s",
            delivery.event,
            delivery.job_id,
            delivery.message_id,
            delivery.attempts,
            outcome.status.value,
            outcome.status_code,
            outcome.error or "no error",
        )
        return outcome if recorded else None

    def _send(self, delivery: WebhookDelivery, key: ApiKey, now: datetime) -> Outcome:
        try:
            target = check_webhook_url(delivery.url, self.allow, self.resolver)
        except WebhookUnresolvable as exc:
            return judge(None, str(exc), delivery.attempts, delivery.queued_at, now)
        except WebhookAddressError as exc:
            return Outcome(DeliveryStatus.FAILED, None, f"refused: {exc}")
        secrets = signing_secrets(key, now)
        headers = delivery_headers(secrets, delivery.message_id, delivery.body, now)
        try:
            answer = post(target, delivery.body.encode(), headers, self.deadline_s)
        except NoAnswer as exc:
            return judge(None, f"no answer: {exc}", delivery.attempts, delivery.queued_at, now)
        error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}: {answer.excerpt}"
        return judge(answer.status, error, delivery.attempts, delivery.queued_at, now)


def record(
    sessions: sessionmaker[Session],
    delivery: WebhookDelivery,
    lease: datetime,
    outcome: Outcome,
    at: datetime,
    took_ms: float,
) -> bool:
    """Write the attempt on the row if it is still under ``lease``; True if it was."""
    entry = {
        "attempt": delivery.attempts,
        "at": at.isoformat(),
        "status_code": outcome.status_code,
        "error": (outcome.error or "")[:300] or None,
        "ms": took_ms,
    }
    with sessions() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_until == lease)
            .values(
                status=outcome.status.value,
                next_attempt_at=outcome.retry_at,
                lease_until=None,
                last_status_code=outcome.status_code,
                last_error=entry["error"],
                history=[*delivery.history, entry][-ATTEMPTS_KEPT:],
                delivered_at=at if outcome.status is DeliveryStatus.DELIVERED else None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return result.rowcount == 1
