"""DELETE: a job and its images go; a running job is canceled first; retention removes old
inputs and results on schedule (the reaper's sweep); storage used is a metric."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import update

from shared.db.base import utcnow
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.job_objects import stored_bytes, sweep
from shared.settings import Settings
from shared.storage import open_storage
from tests.support.api import submit

WEEK, MONTH = timedelta(days=7), timedelta(days=30)


def objects(settings: Settings, job_id: str) -> list[str]:
    root = open_storage(settings).root / "jobs" / job_id  # type: ignore[attr-defined]
    return sorted(path.name for path in root.glob("*")) if root.exists() else []


def test_deleting_a_queued_job_cancels_it_and_removes_its_images(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    assert objects(settings, job_id) == ["content.png", "style-1.png", "style-2.png"]
    response = client.delete(f"/v1/jobs/{job_id}", headers=auth)
    assert response.status_code == 204 and response.data == b""
    assert objects(settings, job_id) == []
    for path in ("", "/result", "/preview", "/events", "/deliveries"):
        assert client.get(f"/v1/jobs/{job_id}{path}", headers=auth).status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}", headers=auth).status_code == 404
    assert job_id not in [
        job["id"] for job in client.get("/v1/jobs", headers=auth).get_json()["jobs"]
    ]
    with session_factory(settings.database_url)() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert (job.status, job.input_bytes) == ("canceled", 0)


def test_deleting_a_running_job_stops_it_and_the_sweep_removes_the_rest(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        assert claim_job(session, uuid.UUID(job_id), "w", 1)
    response = client.delete(f"/v1/jobs/{job_id}", headers=auth)
    assert response.status_code == 202
    assert client.get(f"/v1/jobs/{job_id}", headers=auth).status_code == 404
    with sessions() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job.cancel_requested and job.status == "running"
        assert end_job(session, job.id, JobStatus.CANCELED, only_if=run_is(1))  # the worker
    assert objects(settings, job_id) != [], "still there until the sweep"
    storage = open_storage(settings)
    with sessions() as session:
        report = sweep(session, storage, utcnow(), WEEK, MONTH)
    assert report.inputs == report.outputs == [uuid.UUID(job_id)] and report.rows == 1
    assert objects(settings, job_id) == []
    with sessions() as session:
        assert session.get(Job, uuid.UUID(job_id)) is None, "the deleted row goes too"


def test_another_key_cannot_delete(client: FlaskClient, auth: dict, settings: Settings) -> None:
    from tests.support.api import make_key

    job_id = submit(client, auth).get_json()["id"]
    assert (
        client.delete(f"/v1/jobs/{job_id}", headers=make_key(settings, "other")).status_code == 404
    )
    assert client.delete("/v1/jobs/not-a-uuid", headers=auth).status_code == 404
    assert objects(settings, job_id) != []


def test_retention_removes_old_inputs_then_old_results(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    sessions = session_factory(settings.database_url)
    storage = open_storage(settings)
    storage.put(f"jobs/{job_id}/result-1.png", b"picture")
    with sessions() as session:
        claim_job(session, uuid.UUID(job_id), "w", 1)
        end_job(
            session,
            uuid.UUID(job_id),
            JobStatus.SUCCEEDED,
            only_if=run_is(1),
            result_key=f"jobs/{job_id}/result-1.png",
            result_bytes=7,
        )
        assert stored_bytes(session) > 7
    with sessions() as session:
        assert sweep(session, storage, utcnow() + WEEK / 2, WEEK, MONTH).inputs == []
        report = sweep(session, storage, utcnow() + WEEK * 2, WEEK, MONTH)
    assert report.inputs == [uuid.UUID(job_id)] and report.outputs == []
    assert objects(settings, job_id) == ["result-1.png"]
    assert client.get(f"/v1/jobs/{job_id}/result", headers=auth).data == b"picture"
    with sessions() as session:
        assert stored_bytes(session) == 7
        report = sweep(session, storage, utcnow() + MONTH * 2, WEEK, MONTH)
        assert report.outputs == [uuid.UUID(job_id)] and stored_bytes(session) == 0
    gone = client.get(f"/v1/jobs/{job_id}/result", headers=auth)
    assert gone.status_code == 410 and "retention" in gone.get_json()["detail"]
    assert client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "succeeded"


def test_active_jobs_are_never_swept(client: FlaskClient, auth: dict, settings: Settings) -> None:
    job_id = submit(client, auth).get_json()["id"]
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        session.execute(update(Job).values(created_at=utcnow() - MONTH * 3))
        session.commit()
        report = sweep(session, open_storage(settings), utcnow() + MONTH * 3, WEEK, MONTH)
    assert report.inputs == [] and len(objects(settings, job_id)) == 3


def test_a_full_disk_refuses_the_submit_and_stores_nothing(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    client.application.config["STYLIZE"] = settings.model_copy(
        update={"storage_min_free_mb": 10**9}  # more than any disk has free
    )
    response = submit(client, auth)
    assert response.status_code == 507 and response.mimetype == "application/problem+json"
    assert "storage is full" in response.get_json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    root = open_storage(settings).root  # type: ignore[attr-defined]
    assert not (root / "jobs").exists() or not any((root / "jobs").iterdir())
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []
