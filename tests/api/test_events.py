"""Server-Sent Events over HTTP: the current state first, then each event, closing at the end;
resumed with Last-Event-ID; capped per key; at most STYLIZE_EVENTS_MAX_S long."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api import create_app, events
from api.event_hub import EventHub
from shared.db.job import FailureCode, Job, JobStatus
from shared.db.session import session_factory
from shared.job_end import end_job, failure, run_is
from shared.job_moves import claim_job
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from tests.support.api import REDIS_URL, RecordingSender, submit


def frames(chunks: Iterator[bytes]) -> Iterator[str]:
    """The stream split into SSE frames (an event or a comment each)."""
    for chunk in chunks:
        yield from (part for part in chunk.decode().split("\n\n") if part)


def parse(frame: str) -> tuple[int, str, dict]:
    """(id, event name, data) of one event frame."""
    fields = dict(line.split(": ", 1) for line in frame.split("\n"))
    return int(fields["id"]), fields["event"], json.loads(fields["data"])


def open_stream(
    client: FlaskClient, auth: dict, job_id: str, headers: dict | None = None
) -> Iterator[str]:
    response = client.get(
        f"/v1/jobs/{job_id}/events", headers={**auth, **(headers or {})}, buffered=False
    )
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    return frames(iter(response.response))


def claim(settings: Settings, job_id: str) -> None:
    with session_factory(settings.database_url)() as session:
        assert claim_job(session, uuid.UUID(job_id), "w", 1)


def test_finished_job_sends_the_end_at_once_and_closes(client: FlaskClient, auth: dict) -> None:
    job_id = submit(client, auth).get_json()["id"]
    client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    [frame] = list(open_stream(client, auth, job_id))
    _, name, data = parse(frame)
    assert name == "status" and data["status"] == "canceled" and data["id"] == job_id
    assert data == client.get(f"/v1/jobs/{job_id}", headers=auth).get_json(), "the job document"


def test_a_running_job_streams_its_events_in_order_and_closes_at_the_end(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="2").get_json()["id"]
    stream = open_stream(client, auth, job_id)
    assert parse(next(stream))[2]["status"] == "queued"
    channel = ProgressChannel.from_url(REDIS_URL)
    claim(settings, job_id)
    channel.publish(job_id, {"type": "status", "status": "running"})
    received = [parse(next(stream))]
    for event in (
        {"type": "progress", "iteration": 1, "total": 2, "percent": 50.0},
        {"type": "preview", "iteration": 1},
        {"type": "progress", "iteration": 2, "total": 2, "percent": 100.0},
    ):
        channel.publish(job_id, event)
        received.append(parse(next(stream)))
    with session_factory(settings.database_url)() as session:
        ended = end_job(
            session, uuid.UUID(job_id), JobStatus.SUCCEEDED, only_if=run_is(1), channel=channel
        )
        assert ended is not None
    received += [parse(frame) for frame in stream]  # ends by itself after "succeeded"
    assert [(name, data.get("status", data.get("iteration"))) for _, name, data in received] == [
        ("status", "running"),
        ("progress", 1),
        ("preview", 1),
        ("progress", 2),
        ("status", "succeeded"),
    ]
    assert [event_id for event_id, _, _ in received] == [0, 1, 1, 2, 2], "ids: iteration shown"


def test_stream_starts_with_live_progress_and_never_goes_back(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="10").get_json()["id"]
    claim(settings, job_id)
    channel = ProgressChannel.from_url(REDIS_URL)
    channel.publish(job_id, {"type": "progress", "iteration": 5, "total": 10})
    stream = open_stream(client, auth, job_id)
    status = parse(next(stream))
    assert status[1:] == ("status", status[2]) and status[2]["status"] == "running"
    assert status[2]["progress"]["iteration"] == 5, "the document merges the live progress"
    assert parse(next(stream))[2]["iteration"] == 5
    for iteration in (4, 5, 6):  # 4 and 5 are stale copies (published before the state read)
        channel.publish(job_id, {"type": "progress", "iteration": iteration, "total": 10})
    channel.publish(job_id, {"type": "preview", "iteration": 6})
    assert [parse(frame)[2].get("iteration") for frame in (next(stream), next(stream))] == [6, 6]


def test_a_reconnect_with_last_event_id_repeats_no_progress(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="10").get_json()["id"]
    claim(settings, job_id)
    ProgressChannel.from_url(REDIS_URL).publish(
        job_id, {"type": "progress", "iteration": 5, "total": 10}
    )
    fresh = open_stream(client, auth, job_id)
    assert [parse(next(fresh))[1] for _ in range(2)] == ["status", "progress"]
    resumed = open_stream(client, auth, job_id, {"Last-Event-ID": "5"})
    assert parse(next(resumed))[:2] == (5, "status")
    ProgressChannel.from_url(REDIS_URL).publish(
        job_id, {"type": "progress", "iteration": 6, "total": 10}
    )
    assert parse(next(resumed))[:2] == (6, "progress"), "iteration 5 was not sent again"


def test_a_stream_ends_after_its_longest_life_and_asks_for_a_reconnect(
    settings: Settings, auth: dict
) -> None:
    short = create_app(
        settings.model_copy(update={"events_max_s": 0.3}), task_sender=RecordingSender()
    )
    client = short.test_client()
    job_id = submit(client, auth).get_json()["id"]
    stream = list(open_stream(client, auth, job_id))
    assert parse(stream[0])[2]["status"] == "queued"
    assert stream[-1].startswith("retry: ") and "Last-Event-ID" in stream[-1]


def test_silence_sends_keepalives_and_a_missed_end_still_closes(
    client: FlaskClient, auth: dict, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)
    job_id = submit(client, auth).get_json()["id"]
    stream = open_stream(client, auth, job_id)
    assert parse(next(stream))[2]["status"] == "queued"
    assert next(stream) == ": keepalive"
    claim(settings, job_id)
    with session_factory(settings.database_url)() as session:  # ends with no event published
        message = "the worker stopped answering"
        end_job(
            session,
            uuid.UUID(job_id),
            JobStatus.FAILED,
            only_if=run_is(1),
            **failure(FailureCode.WORKER_LOST, message),
        )
    last = [parse(frame) for frame in stream][-1][2]
    assert (last["status"], last["error"]) == (
        "failed",
        {"code": "worker_lost", "message": "the worker stopped answering"},
    )


def test_streams_beyond_the_keys_cap_are_429_with_retry_after(
    settings: Settings, auth: dict
) -> None:
    capped = create_app(
        settings.model_copy(update={"events_per_key": 2}), task_sender=RecordingSender()
    )
    client = capped.test_client()
    job_id = submit(client, auth).get_json()["id"]
    held = [client.get(f"/v1/jobs/{job_id}/events", headers=auth, buffered=False) for _ in range(2)]
    assert [response.status_code for response in held] == [200, 200]
    third = client.get(f"/v1/jobs/{job_id}/events", headers=auth)
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0
    assert "2 open event streams" in third.get_json()["detail"]
    for response in held:
        response.close()
    again = client.get(f"/v1/jobs/{job_id}/events", headers=auth, buffered=False)
    assert again.status_code == 200, "closed streams give their slots back"
    again.close()


def test_redis_down_is_a_503_problem(app: Flask, client: FlaskClient, auth: dict) -> None:
    job_id = submit(client, auth).get_json()["id"]
    app.extensions["stylize_event_hub"] = EventHub(
        lambda: redis.Redis.from_url("redis://127.0.0.1:1/0")
    )
    response = client.get(f"/v1/jobs/{job_id}/events", headers=auth)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


def test_a_deleted_job_has_no_stream(client: FlaskClient, auth: dict, settings: Settings) -> None:
    job_id = submit(client, auth).get_json()["id"]
    assert client.delete(f"/v1/jobs/{job_id}", headers=auth).status_code == 204
    assert client.get(f"/v1/jobs/{job_id}/events", headers=auth).status_code == 404
    with session_factory(settings.database_url)() as session:
        assert session.get(Job, uuid.UUID(job_id)).deleted_at is not None
