"""One delivery attempt against a real HTTP receiver on 127.0.0.1 (allowed by the allow-list):
signed, retried on 5xx with backoff for an hour, refused for private addresses, pinned to the
checked address."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from shared.api_keys import create_key, revoke_key
from shared.db import job_store
from shared.db.session import session_factory
from shared.params import JobParams
from shared.settings import Settings
from shared.webhook_signature import signature
from tests.support import WebhookReceiver
from worker.webhook_delivery import Outcome, attempt_delivery, retry_delay


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def sessions(sqlite_url: str) -> sessionmaker[Session]:
    return session_factory(sqlite_url)


def job_with_webhook(sessions: sessionmaker[Session], url: str) -> tuple[str, str, str]:
    """A queued job with ``webhook_url``; returns (job id, key secret, webhook secret)."""
    with sessions() as session:
        key, secret = create_key(session, "hooks")
        job = job_store.create_job(
            session,
            job_id=uuid.uuid4(),
            owner_id=key.id,
            params=JobParams(webhook_url=url),
            content_key="c",
            style_keys=["s"],
            max_attempts=1,
        )
        return str(job.id), secret, str(key.webhook_secret)


def attempt(
    sessions: sessionmaker[Session], job_id: str, allow: str = "127.0.0.1", **kwargs: Any
) -> Outcome:
    now = time.time()
    arguments: dict[str, Any] = {
        "job_id": job_id,
        "event": "completed",
        "body": json.dumps({"id": job_id, "status": "succeeded"}),
        "delivery_id": "delivery-1",
        "created_at": now,
        "attempt": 0,
        "now": now,
        **kwargs,
    }
    return attempt_delivery(sessions, Settings(webhook_allow=allow), **arguments)


def test_a_delivery_is_signed_with_the_keys_webhook_secret(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    job_id, _, webhook_secret = job_with_webhook(sessions, receiver.url)
    outcome = attempt(sessions, job_id)
    assert outcome == Outcome("delivered", "HTTP 200")
    [got] = receiver.deliveries
    assert got.path == "/hook"
    assert got.headers["X-Stylize-Event"] == "completed"
    assert got.headers["X-Stylize-Delivery"] == "delivery-1"
    assert got.headers["Content-Type"] == "application/json"
    stamp = int(got.headers["X-Stylize-Timestamp"])
    assert got.headers["X-Stylize-Signature"] == signature(webhook_secret, stamp, got.body)
    assert json.loads(got.body) == {"id": job_id, "status": "succeeded"}


def test_a_500_is_retried_with_growing_delays_for_an_hour(
    sessions: sessionmaker[Session],
) -> None:
    failing = WebhookReceiver(statuses=[500, 503])
    try:
        job_id, _, _ = job_with_webhook(sessions, failing.url)
        first = attempt(sessions, job_id)
        assert (first.result, first.detail, first.retry_in) == ("retry", "HTTP 500", 5.0)
        second = attempt(sessions, job_id, attempt=1)
        assert (second.result, second.retry_in) == ("retry", 10.0)
        assert attempt(sessions, job_id, attempt=2).result == "delivered"
        assert len(failing.deliveries) == 3
        assert {d.headers["X-Stylize-Delivery"] for d in failing.deliveries} == {"delivery-1"}
    finally:
        failing.close()
    assert [retry_delay(n) for n in range(9)] == [5, 10, 20, 40, 80, 160, 320, 640, 900]
    late = attempt(sessions, job_id, created_at=time.time() - 3590, attempt=3)
    assert (late.result, late.retry_in) == ("gave_up", None)  # the next try would be too late


def test_no_receiver_is_retried_and_a_404_is_not(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    closed = WebhookReceiver()
    closed.close()  # nothing listens on its port any more
    job_id, _, _ = job_with_webhook(sessions, closed.url)
    assert attempt(sessions, job_id).result == "retry"
    refusing = WebhookReceiver(statuses=[404])
    try:
        job_id, _, _ = job_with_webhook(sessions, refusing.url)
        assert attempt(sessions, job_id).result == "rejected"
        assert len(refusing.deliveries) == 1
    finally:
        refusing.close()


def test_a_private_address_is_refused_at_delivery_without_a_request(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    job_id, _, _ = job_with_webhook(sessions, receiver.url)
    outcome = attempt(sessions, job_id, allow="")  # the operator took 127.0.0.1 off the list
    assert outcome.result == "refused" and "loopback" in outcome.detail
    assert receiver.deliveries == []


def test_rebinding_to_an_internal_address_after_submit_is_refused(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    """At submit the name resolved to a public address; at delivery it resolves to loopback."""
    port = receiver.url.split(":")[2].split("/")[0]
    job_id, _, _ = job_with_webhook(sessions, f"http://rebind.example:{port}/hook")
    outcome = attempt(sessions, job_id, allow="", resolver=lambda host, p: ["127.0.0.1"])
    assert outcome.result == "refused" and "rebind.example resolves to 127.0.0.1" in outcome.detail
    assert receiver.deliveries == []


def test_the_request_goes_to_the_checked_address_with_the_urls_host(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    """An allowed name is connected to at the address that was checked, not resolved again."""
    port = receiver.url.split(":")[2].split("/")[0]
    job_id, _, _ = job_with_webhook(sessions, f"http://hooks.internal:{port}/hook")
    outcome = attempt(
        sessions, job_id, allow="hooks.internal", resolver=lambda host, p: ["127.0.0.1"]
    )
    assert outcome.result == "delivered"
    assert receiver.deliveries[0].headers["Host"] == f"hooks.internal:{port}"


def test_a_revoked_key_gets_no_more_deliveries(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    job_id, secret, _ = job_with_webhook(sessions, receiver.url)
    with sessions() as session:
        assert revoke_key(session, secret[:12])
    assert attempt(sessions, job_id).result == "dropped"
    assert receiver.deliveries == []
