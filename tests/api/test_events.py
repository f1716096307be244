"""Server-Sent Events over HTTP: the current state first, then each event, closing at the end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api import events
from shared.db import job_store
from shared.db.job import FailureCode, JobStatus
from shared.db.session import session_factory
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from tests.support.api import REDIS_URL, submit


def frames(chunks: Iterator[bytes]) -> Iterator[str]:
    """The stream split into SSE frames (an event or a comment each)."""
    for chunk in chunks:
        yield from (part for part in chunk.decode().split("\n\n") if part)


def parse(frame: str) -> tuple[int, str, dict]:
    """(id, event name, data) of one event frame."""
    fields = dict(line.split(": ", 1) for line in frame.split("\n"))
    return int(fields["id"]), fields["event"], json.loads(fields["data"])


def open_stream(client: FlaskClient, auth: dict, job_id: str) -> Iterator[str]:
    response = client.get(f"/v1/jobs/{job_id}/events", headers=auth, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    return frames(iter(response.response))


def test_finished_job_sends_the_end_at_once_and_closes(client: FlaskClient, auth: dict) -> None:
    job_id = submit(client, auth).get_json()["id"]
    client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    stream = list(open_stream(client, auth, job_id))
    assert [parse(frame)[1:] for frame in stream] == [
        ("status", {"type": "status", "status": "canceled"})
    ]


def test_queued_job_streams_published_events_in_order_and_closes(
    client: FlaskClient, auth: dict
) -> None:
    job_id = submit(client, auth, iterations="2").get_json()["id"]
    stream = open_stream(client, auth, job_id)
    assert parse(next(stream))[1:] == ("status", {"type": "status", "status": "queued"})
    channel = ProgressChannel.from_url(REDIS_URL)
    published = [
        {"type": "status", "status": "running"},
        {"type": "progress", "iteration": 1, "total": 2, "percent": 50.0},
        {"type": "preview", "iteration": 1},
        {"type": "progress", "iteration": 2, "total": 2, "percent": 100.0},
        {"type": "status", "status": "succeeded"},
    ]
    for event in published:
        channel.publish(job_id, event)
    received = [parse(frame) for frame in stream]  # ends by itself after "succeeded"
    assert [data for _, _, data in received] == published
    assert [name for _, name, _ in received] == [event["type"] for event in published]
    ids = [event_id for event_id, _, _ in received]
    assert ids == list(range(2, 2 + len(published)))


def test_stream_starts_with_live_progress_and_never_goes_back(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="10").get_json()["id"]
    with session_factory(settings.database_url)() as session:
        job_store.claim_job(session, uuid.UUID(job_id), "w", 1)
    channel = ProgressChannel.from_url(REDIS_URL)
    channel.publish(job_id, {"type": "progress", "iteration": 5, "total": 10})
    stream = open_stream(client, auth, job_id)
    assert parse(next(stream))[2] == {"type": "status", "status": "running"}
    assert parse(next(stream))[2]["iteration"] == 5
    for iteration in (4, 5, 6):  # 4 and 5 are stale copies (published before the state read)
        channel.publish(job_id, {"type": "progress", "iteration": iteration, "total": 10})
    channel.publish(job_id, {"type": "status", "status": "canceled"})
    assert [parse(frame)[2].get("iteration") for frame in stream] == [6, None]


def test_silence_sends_keepalives_and_a_missed_end_still_closes(
    client: FlaskClient, auth: dict, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)
    job_id = submit(client, auth).get_json()["id"]
    stream = open_stream(client, auth, job_id)
    assert parse(next(stream))[2]["status"] == "queued"
    assert next(stream) == ": keepalive"
    with session_factory(settings.database_url)() as session:  # ends with no event published
        job_store.claim_job(session, uuid.UUID(job_id), "w", 1)
        job_store.finish_job(
            session,
            uuid.UUID(job_id),
            1,
            JobStatus.FAILED,
            error_code=FailureCode.WORKER_LOST,
            error_message="the worker stopped answering",
        )
    rest = [parse(frame) for frame in stream]
    assert [data for _, _, data in rest][-1] == {
        "type": "status",
        "status": JobStatus.FAILED.value,
        "error": {"code": "worker_lost", "message": "the worker stopped answering"},
    }


def test_redis_down_is_a_503_problem(
    client: FlaskClient, auth: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    dead = ProgressChannel.from_url("redis://127.0.0.1:1/0")
    monkeypatch.setitem(client.application.extensions, "stylize_channel", dead)
    response = client.get(f"/v1/jobs/{job_id}/events", headers=auth)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
