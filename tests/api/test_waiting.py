"""``Prefer: wait=N``: the answer comes when the job ends or after N seconds, whichever is
first, with Preference-Applied; capped by STYLIZE_MAX_WAIT_S; held like a stream."""

from __future__ import annotations

import threading
import time
import uuid

from flask.testing import FlaskClient

from api import create_app
from shared.db.job import JobStatus
from shared.db.session import session_factory
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from tests.support.api import REDIS_URL, RecordingSender, submit


def end_later(settings: Settings, job_id: str, after_s: float) -> threading.Thread:
    """A worker that claims the job now and ends it ``succeeded`` after ``after_s``."""
    with session_factory(settings.database_url)() as session:
        assert claim_job(session, uuid.UUID(job_id), "w", 1)

    def finish() -> None:
        time.sleep(after_s)
        with session_factory(settings.database_url)() as session:
            channel = ProgressChannel.from_url(REDIS_URL)
            end_job(
                session, uuid.UUID(job_id), JobStatus.SUCCEEDED, only_if=run_is(1), channel=channel
            )

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_get_waits_for_the_end(client: FlaskClient, auth: dict, settings: Settings) -> None:
    job_id = submit(client, auth).get_json()["id"]
    worker = end_later(settings, job_id, 0.5)
    started = time.monotonic()
    response = client.get(f"/v1/jobs/{job_id}", headers={**auth, "Prefer": "wait=20"})
    took = time.monotonic() - started
    worker.join()
    assert response.status_code == 200 and response.get_json()["status"] == "succeeded"
    assert response.headers["Preference-Applied"] == "wait=20"
    assert 0.4 < took < 10, f"answered {took:.1f} s after the request, the job ended at 0.5 s"


def test_a_get_gives_up_after_n_seconds_with_the_job_as_it_is(
    client: FlaskClient, auth: dict
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    started = time.monotonic()
    response = client.get(f"/v1/jobs/{job_id}", headers={**auth, "Prefer": "respond-async, wait=1"})
    assert 0.9 < time.monotonic() - started < 5
    assert response.status_code == 200 and response.get_json()["status"] == "queued"
    assert response.headers["Preference-Applied"] == "wait=1"


def test_the_wait_is_capped_and_a_bad_preference_is_ignored(settings: Settings, auth: dict) -> None:
    capped = create_app(
        settings.model_copy(update={"max_wait_s": 1}), task_sender=RecordingSender()
    )
    client = capped.test_client()
    job_id = submit(client, auth).get_json()["id"]
    response = client.get(f"/v1/jobs/{job_id}", headers={**auth, "Prefer": "wait=3600"})
    assert response.headers["Preference-Applied"] == "wait=1"
    for odd in ("wait=soon", "wait=-3", "wait=1.5"):
        plain = client.get(f"/v1/jobs/{job_id}", headers={**auth, "Prefer": odd})
        assert plain.status_code == 200 and "Preference-Applied" not in plain.headers


def test_a_submit_that_ends_within_the_wait_is_201(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    """The recording sender starts a worker thread for each job it is given."""
    workers: list[threading.Thread] = []

    def start(job_id: str, attempt: int, params: object) -> None:
        sender.sent.append(job_id)
        workers.append(end_later(settings, job_id, 0.3))

    client.application.extensions["stylize_task_sender"] = start
    response = submit(client, auth, headers={"Prefer": "wait=20"})
    for worker in workers:
        worker.join()
    assert response.status_code == 201 and response.get_json()["status"] == "succeeded"
    assert response.headers["Location"].endswith(response.get_json()["id"])
    assert response.headers["Preference-Applied"] == "wait=20"
    client.application.extensions["stylize_task_sender"] = sender  # nobody ends this one
    still = submit(client, auth, headers={"Prefer": "wait=1"})
    assert still.status_code == 202 and still.get_json()["status"] in ("queued", "running")


def test_a_key_without_a_free_slot_gets_its_answer_at_once(settings: Settings, auth: dict) -> None:
    """The job was made: a full key is answered without waiting, never with a 429."""
    no_slots = create_app(
        settings.model_copy(update={"events_per_key": 1}), task_sender=RecordingSender()
    )
    client = no_slots.test_client()
    job_id = submit(client, auth).get_json()["id"]
    held = client.get(f"/v1/jobs/{job_id}/events", headers=auth, buffered=False)
    try:
        response = submit(client, auth, headers={"Prefer": "wait=30"})
        assert response.status_code == 202 and "Preference-Applied" not in response.headers
    finally:
        held.close()
