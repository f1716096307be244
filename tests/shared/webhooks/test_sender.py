"""Sending the outbox: real HTTP receivers on 127.0.0.1 (allowed by the allow-list), a real
database. Signed, retried on 5xx with backoff for an hour, refused for private addresses,
pinned to the checked address, bounded against hostile receivers, fair between keys."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from shared.api_keys import create_key, revoke_key, rotate_webhook_secret
from shared.db import job_store
from shared.db.api_key import ApiKey
from shared.db.base import utcnow
from shared.db.session import session_factory
from shared.db.webhook_delivery import DeliveryStatus, WebhookDelivery
from shared.params import JobParams
from shared.webhooks.address import AllowList
from shared.webhooks.outbox import queue_delivery
from shared.webhooks.sender import Sender, judge, retry_delay
from tests.support import HostileReceiver, WebhookReceiver, wait_until


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return session_factory(database_url)


def queued(sessions: sessionmaker[Session], url: str, key: ApiKey | None = None) -> uuid.UUID:
    """A job with ``webhook_url`` and its ``completed`` delivery in the outbox; the delivery id."""
    with sessions() as session:
        if key is None:
            key, _ = create_key(session, "hooks")
        job = job_store.create_job(
            session,
            job_id=uuid.uuid4(),
            owner_id=key.id,
            params=JobParams(webhook_url=url),
            content_key="c",
            style_keys=["s"],
            max_attempts=1,
        )
        delivery = queue_delivery(session, job, "completed")
        assert delivery is not None
        session.commit()
        return delivery.id


def sender(sessions: sessionmaker[Session], allow: str = "127.0.0.1", **options: object) -> Sender:
    return Sender(sessions, AllowList.parse(allow), **options)  # type: ignore[arg-type]


def send_once(sender: Sender, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Lease and attempt ``delivery_id`` now (as a pass would); the row afterwards."""
    with sender.sessions() as session:
        session.get(WebhookDelivery, delivery_id).next_attempt_at = utcnow()
        session.commit()
    assert sender.dispatch() == 1
    wait_until(lambda: sender.busy() == 0, 30, "the attempt to finish")
    with sender.sessions() as session:
        return session.get(WebhookDelivery, delivery_id)


def test_a_delivery_is_signed_as_standard_webhooks_say(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    delivery_id = queued(sessions, receiver.url)
    row = send_once(sender(sessions), delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    [got] = receiver.deliveries
    with sessions() as session:
        secret = session.get(ApiKey, row.owner_id).webhook_secret
    message = Webhook(secret).verify(got.body, got.headers)
    assert message["type"] == "job.completed" and message["data"]["id"] == str(row.job_id)
    assert got.headers["webhook-id"] == row.message_id
    assert row.history[0]["status_code"] == 200 and row.history[0]["ms"] >= 0


def test_a_rotated_secret_still_verifies_during_the_overlap(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    delivery_id = queued(sessions, receiver.url)
    with sessions() as session:
        key = session.get(ApiKey, session.get(WebhookDelivery, delivery_id).owner_id)
        old = key.webhook_secret
        new = rotate_webhook_secret(session, key, timedelta(hours=1))
    send_once(sender(sessions), delivery_id)
    [got] = receiver.deliveries
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_a_500_is_retried_with_growing_delays_for_an_hour(
    sessions: sessionmaker[Session],
) -> None:
    failing = WebhookReceiver(statuses=[500, 503])
    try:
        delivery_id = queued(sessions, failing.url)
        sending = sender(sessions)
        first = send_once(sending, delivery_id)
        assert (first.status, first.last_status_code, first.attempts) == ("pending", 500, 1)
        assert abs((first.next_attempt_at - utcnow()).total_seconds() - 5.0) < 2
        assert send_once(sending, delivery_id).last_status_code == 503
        third = send_once(sending, delivery_id)
        assert (third.status, third.attempts, len(third.history)) == ("delivered", 3, 3)
        assert {d.headers["webhook-id"] for d in failing.deliveries} == {third.message_id}
    finally:
        failing.close()
    assert [retry_delay(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 640, 900]
    now = utcnow()
    late = judge(500, "HTTP 500", 4, now - timedelta(seconds=3590), now)
    assert late.status is DeliveryStatus.FAILED  # the next try would fall past the hour


def test_no_receiver_is_retried_and_a_404_is_not(sessions: sessionmaker[Session]) -> None:
    closed = WebhookReceiver()
    closed.close()  # nothing listens on its port any more
    row = send_once(sender(sessions), queued(sessions, closed.url))
    assert row.status == "pending" and row.last_error.startswith("no answer")
    refusing = WebhookReceiver(statuses=[404])
    try:
        row = send_once(sender(sessions), queued(sessions, refusing.url))
        assert (row.status, row.last_status_code) == ("failed", 404)
        assert len(refusing.deliveries) == 1
    finally:
        refusing.close()


def test_a_private_address_is_refused_at_delivery_without_a_request(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    delivery_id = queued(sessions, receiver.url)
    row = send_once(sender(sessions, allow=""), delivery_id)  # 127.0.0.1 taken off the list
    assert row.status == "failed" and "loopback" in row.last_error
    assert receiver.deliveries == []


def test_rebinding_to_an_internal_address_after_submit_is_refused(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    """At submit the name resolved to a public address; at delivery it resolves to loopback."""
    port = receiver.url.split(":")[2].split("/")[0]
    delivery_id = queued(sessions, f"http://rebind.example:{port}/hook")
    rebinding = sender(sessions, allow="", resolver=lambda host, p: ["127.0.0.1"])
    row = send_once(rebinding, delivery_id)
    assert row.status == "failed" and "rebind.example resolves to 127.0.0.1" in row.last_error
    assert receiver.deliveries == []


def test_the_request_goes_to_the_checked_address_with_the_urls_host(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    delivery_id = queued(sessions, f"http://hooks.internal:{port}/hook")
    pinned = sender(sessions, allow="hooks.internal", resolver=lambda host, p: ["127.0.0.1"])
    assert send_once(pinned, delivery_id).status == "delivered"
    assert receiver.deliveries[0].headers["Host"] == f"hooks.internal:{port}"


def test_a_revoked_key_gets_no_more_deliveries(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    delivery_id = queued(sessions, receiver.url)
    with sessions() as session:
        key = session.get(ApiKey, session.get(WebhookDelivery, delivery_id).owner_id)
        assert revoke_key(session, key.prefix)
    assert send_once(sender(sessions), delivery_id).status == "dropped"
    assert receiver.deliveries == []


@pytest.mark.parametrize("mode", ["trickle", "endless"])
def test_a_receiver_that_never_finishes_costs_one_deadline(
    sessions: sessionmaker[Session], mode: str
) -> None:
    hostile = HostileReceiver(mode)
    try:
        started = time.monotonic()
        row = send_once(sender(sessions, deadline_s=1.5), queued(sessions, hostile.url))
        took = time.monotonic() - started
    finally:
        hostile.close()
    if mode == "trickle":  # headers never end: cut off at the deadline, retried later
        assert row.status == "pending" and "within 2 s" in row.last_error
    else:  # a 200 with a body that never ends: the status is read, 1 KiB of the body, no more
        assert row.status == "delivered"
    assert took < 10, f"the attempt took {took:.1f} s against a 1.5 s deadline"


def test_a_compressed_answer_is_never_inflated(sessions: sessionmaker[Session]) -> None:
    hostile = HostileReceiver("gzip-bomb")
    try:
        tracemalloc.start()
        row = send_once(sender(sessions), queued(sessions, hostile.url))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        hostile.close()
    assert row.status == "delivered", (row.status, row.last_error)
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated for a 512 MiB gzip answer"


def test_a_slow_receiver_delays_only_its_own_key(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    slow = HostileReceiver("slow", delay_s=4.0)
    try:
        slow_ids = [queued(sessions, slow.url) for _ in range(1)]
        with sessions() as session:
            slow_key = session.get(ApiKey, session.get(WebhookDelivery, slow_ids[0]).owner_id)
        slow_ids += [queued(sessions, slow.url, slow_key) for _ in range(5)]
        fast_id = queued(sessions, receiver.url)
        sending = sender(sessions, threads=4, per_key=2, deadline_s=10)
        stop = threading.Event()
        loop = threading.Thread(target=sending.run, args=(stop, 0.1), daemon=True)
        loop.start()
        started = time.monotonic()
        wait_until(lambda: receiver.deliveries, 10, "the other key's delivery")
        fast = time.monotonic() - started
        assert slow.connections <= 2, "at most per_key of the slow key's deliveries at once"
        stop.set()
        loop.join()
        sending.close(wait=True)
    finally:
        slow.close()
    assert fast < 2.0, f"the fast key waited {fast:.1f} s behind the slow one"
    with sessions() as session:
        assert session.get(WebhookDelivery, fast_id).status == "delivered"
    body = json.loads(receiver.deliveries[0].body)
    assert body["type"] == "job.completed"
