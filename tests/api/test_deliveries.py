"""A job's webhook deliveries through the API: listed with their attempts, sent again on
request; the key's signing secret rotated with an overlap."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from api import create_app
from shared.db.api_key import ApiKey
from shared.db.job import JobStatus
from shared.db.session import session_factory
from shared.db.webhook_delivery import WebhookDelivery
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.settings import Settings
from tests.support.api import RecordingSender, make_key, submit

HOOK = {"webhook_url": "http://127.0.0.1:9/hook", "webhook_events": "running,completed"}


@pytest.fixture
def client(settings: Settings, sender: RecordingSender) -> FlaskClient:
    """The API with webhooks allowed to 127.0.0.1 (nothing listens: the outbox is the point)."""
    allowed = settings.model_copy(update={"webhook_allow": "127.0.0.1"})
    return create_app(allowed, task_sender=sender).test_client()


def ended_with_webhooks(client: FlaskClient, auth: dict, settings: Settings) -> str:
    """A job that ran and succeeded: its running and completed deliveries are in the outbox."""
    job_id = submit(client, auth, **HOOK).get_json()["id"]
    with session_factory(settings.database_url)() as session:
        assert claim_job(session, uuid.UUID(job_id), "w", 1)
        assert end_job(session, uuid.UUID(job_id), JobStatus.SUCCEEDED, only_if=run_is(1))
    return job_id


def test_each_end_has_its_delivery_listed(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = ended_with_webhooks(client, auth, settings)
    body = client.get(f"/v1/jobs/{job_id}/deliveries", headers=auth).get_json()
    assert [d["event"] for d in body["deliveries"]] == ["job.running", "job.completed"]
    assert {d["status"] for d in body["deliveries"]} == {"pending"}
    assert all(
        d["webhook_id"].startswith("msg_") and d["history"] == [] for d in body["deliveries"]
    )
    canceled = submit(client, auth, **HOOK).get_json()["id"]
    client.post(f"/v1/jobs/{canceled}/cancel", headers=auth)  # canceled while queued
    listed = client.get(f"/v1/jobs/{canceled}/deliveries", headers=auth).get_json()["deliveries"]
    assert [d["event"] for d in listed] == ["job.completed"], "a cancel while queued sends it too"
    other = make_key(settings, "other")
    assert client.get(f"/v1/jobs/{job_id}/deliveries", headers=other).status_code == 404


def test_a_failed_delivery_can_be_sent_again(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = ended_with_webhooks(client, auth, settings)
    deliveries = client.get(f"/v1/jobs/{job_id}/deliveries", headers=auth).get_json()["deliveries"]
    completed = deliveries[-1]["id"]
    with session_factory(settings.database_url)() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(completed))
            .values(status="failed", attempts=9, next_attempt_at=None)
        )
        session.commit()
    response = client.post(f"/v1/jobs/{job_id}/deliveries/{completed}/resend", headers=auth)
    assert response.status_code == 202
    assert (response.get_json()["status"], response.get_json()["attempts"]) == ("pending", 9)
    assert response.get_json()["next_attempt_at"] is not None
    wrong = f"/v1/jobs/{job_id}/deliveries/{uuid.uuid4()}/resend"
    assert client.post(wrong, headers=auth).status_code == 404
    assert client.post(f"/v1/jobs/{job_id}/deliveries/nope/resend", headers=auth).status_code == 404


def test_the_signing_secret_rotates_with_an_overlap(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    with session_factory(settings.database_url)() as session:
        old = session.query(ApiKey).one().webhook_secret
    response = client.post("/v1/webhook-secret", headers=auth, json={"overlap_hours": 2})
    assert response.status_code == 201
    body = response.get_json()
    assert body["secret"].startswith("whsec_") and body["secret"] != old
    assert body["previous_valid_until"] is not None
    with session_factory(settings.database_url)() as session:
        key = session.query(ApiKey).one()
        assert (key.webhook_secret, key.previous_webhook_secret) == (body["secret"], old)
    bad = client.post("/v1/webhook-secret", headers=auth, json={"overlap_hours": 1000})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "overlap_hours"
    unknown = client.post("/v1/webhook-secret", headers=auth, json={"overlap": 1})
    assert unknown.status_code == 422
    assert client.post("/v1/webhook-secret").status_code == 401
