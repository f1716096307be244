"""GET /metrics and X-Request-Id on the in-process app (real SQLite and Redis)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from shared.logs import make_handler
from shared.settings import Settings
from tests.support.api import REDIS_URL, RecordingSender, submit


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def queue_client(settings: Settings, sender: RecordingSender) -> Iterator[FlaskClient]:
    """The app on a queue of its own, which this test fills by hand."""
    queue = f"gpu-metrics-{uuid.uuid4().hex[:8]}"
    app = create_app(settings.model_copy(update={"gpu_queue": queue}), task_sender=sender)
    yield app.test_client()
    redis.Redis.from_url(REDIS_URL).delete(queue)


def test_metrics_count_requests_submits_jobs_and_queue_depth(
    queue_client: FlaskClient, auth: dict
) -> None:
    client = queue_client
    queue = client.application.config["STYLIZE"].gpu_queue
    before = scrape(client)
    assert submit(client, auth).status_code == 202
    assert client.get("/v1/jobs/not-a-uuid", headers=auth).status_code == 404
    redis.Redis.from_url(REDIS_URL).rpush(queue, "m1", "m2", "m3")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("stylize_jobs_submitted_total") == 1
    post = {"route": "/v1/jobs", "method": "POST"}
    assert moved("stylize_http_requests_total", **post, status="202") == 1
    assert moved("stylize_http_request_duration_seconds_count", **post) == 1
    get = {"route": "/v1/jobs/<job_id>", "method": "GET", "status": "404"}
    assert moved("stylize_http_requests_total", **get) == 1
    assert value(after, "stylize_jobs", status="queued") == 1
    assert value(after, "stylize_jobs", status="succeeded") == 0
    assert value(after, "stylize_queue_depth", queue=queue) == 3


def test_request_ids_are_returned_and_sane_ones_kept(client: FlaskClient) -> None:
    made = client.get("/healthz").headers["X-Request-Id"]
    assert len(made) == 32 and made != client.get("/healthz").headers["X-Request-Id"]
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert kept.headers["X-Request-Id"] == "lb-1234.abc"
    unsafe = client.get("/healthz", headers={"X-Request-Id": "x\u2028y" * 100})
    assert len(unsafe.headers["X-Request-Id"]) == 32


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logger = logging.getLogger("api")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_log_lines_of_a_request_carry_its_id(
    client: FlaskClient, auth: dict, sender: RecordingSender, api_log: io.StringIO
) -> None:
    sender.fail = True  # the API logs that the reaper will send it
    response = submit(client, auth, headers={"X-Request-Id": "req-42"})
    assert response.status_code == 202
    lines = [json.loads(line) for line in api_log.getvalue().splitlines()]
    unsent = [line for line in lines if "accepted, not sent" in line["message"]]
    assert unsent and unsent[0]["request_id"] == "req-42" and unsent[0]["level"] == "WARNING"


def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    guarded = create_app(
        settings.model_copy(update={"metrics_token": "s3cret"}), task_sender=RecordingSender()
    )
    client = guarded.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and b"stylize_storage_bytes" in answer.data
