"""Submitting, reading, listing, cancelling, results; auth and idempotency."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api import create_app
from shared.api_keys import create_key
from shared.db import job_store
from shared.db.job import FailureCode, JobStatus
from shared.db.session import session_factory
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from shared.storage import StorageError, open_storage
from tests.support import png_bytes
from tests.support.api import REDIS_URL, RecordingSender, make_key, submit


def test_submit_stores_inputs_writes_row_then_queues(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    response = submit(client, auth, iterations="7", style_blend="1,3", preserve_color="true")
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"/v1/jobs/{body['id']}"
    assert body["status"] == "queued"
    assert body["params"]["iterations"] == 7 and body["params"]["style_blend"] == [1.0, 3.0]
    assert body["params"]["preserve_color"] is True
    assert body["progress"] == {
        "iteration": 0,
        "total": 7,
        "percent": 0.0,
        "losses": None,
        "ms_per_iter": None,
        "eta_s": None,
    }
    assert sender.sent == [body["id"]]
    storage = open_storage(settings)
    assert storage.get(f"jobs/{body['id']}/content.png") == png_bytes(48, 32)
    assert storage.exists(f"jobs/{body['id']}/style-2.png")


def test_params_as_json(client: FlaskClient, auth: dict) -> None:
    response = submit(client, auth, params=json.dumps({"iterations": 9, "optimizer": "adam"}))
    assert response.status_code == 202
    assert response.get_json()["params"]["optimizer"] == "adam"


def test_auth_missing_bad_and_other_owner(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    for headers in ({}, {"Authorization": "Bearer sty_wrong"}, {"Authorization": "Basic x"}):
        response = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert ("invalid_token" in response.headers["WWW-Authenticate"]) == bool(headers)
    assert client.post("/v1/jobs", data={}).status_code == 401
    other = make_key(settings, "other")
    for path in ("", "/result", "/preview", "/events"):
        assert client.get(f"/v1/jobs/{job_id}{path}", headers=other).status_code == 404
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=other).status_code == 404
    assert client.get("/v1/jobs", headers=other).get_json()["jobs"] == []
    assert client.get("/v1/jobs/not-a-uuid", headers=auth).status_code == 404


def test_idempotency_key(client: FlaskClient, auth: dict, sender: RecordingSender) -> None:
    first = submit(client, auth, {"Idempotency-Key": "abc"}, iterations="5")
    again = submit(client, auth, {"Idempotency-Key": "abc"}, iterations="5")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert len(sender.sent) == 1
    different = submit(client, auth, {"Idempotency-Key": "abc"}, iterations="6")
    assert different.status_code == 409
    assert different.mimetype == "application/problem+json"


def test_list_pagination_filter_and_bad_input(client: FlaskClient, auth: dict) -> None:
    ids = [submit(client, auth).get_json()["id"] for _ in range(3)]
    client.post(f"/v1/jobs/{ids[0]}/cancel", headers=auth)
    page = client.get("/v1/jobs?limit=2", headers=auth).get_json()
    assert [job["id"] for job in page["jobs"]] == [ids[2], ids[1]]
    rest = client.get(f"/v1/jobs?limit=2&cursor={page['next_cursor']}", headers=auth).get_json()
    assert [job["id"] for job in rest["jobs"]] == [ids[0]] and rest["next_cursor"] is None
    canceled = client.get("/v1/jobs?status=canceled", headers=auth).get_json()["jobs"]
    assert [job["id"] for job in canceled] == [ids[0]]
    for query, field in (
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("cursor=zzz", "cursor"),
    ):
        response = client.get(f"/v1/jobs?{query}", headers=auth)
        assert response.status_code == 422, query
        assert response.get_json()["errors"][0]["field"] == field


def test_cancel_queued_then_cancel_again_is_409(client: FlaskClient, auth: dict) -> None:
    job_id = submit(client, auth).get_json()["id"]
    response = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 200 and response.get_json()["status"] == "canceled"
    again = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert again.status_code == 409 and "canceled" in again.get_json()["detail"]


def test_cancel_running_sets_the_redis_flag(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth).get_json()["id"]
    with session_factory(settings.database_url)() as session:
        claim_job(session, uuid.UUID(job_id), "w", 1)
    response = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 202 and response.get_json()["status"] == "running"
    assert ProgressChannel.from_url(REDIS_URL).cancel_requested(job_id)


def test_result_and_preview_before_success(client: FlaskClient, auth: dict) -> None:
    job_id = submit(client, auth).get_json()["id"]
    result = client.get(f"/v1/jobs/{job_id}/result", headers=auth)
    assert result.status_code == 409 and "queued" in result.get_json()["detail"]
    assert client.get(f"/v1/jobs/{job_id}/preview", headers=auth).status_code == 404


def test_live_progress_is_merged_and_never_behind(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="10").get_json()["id"]
    with session_factory(settings.database_url)() as session:
        claim_job(session, uuid.UUID(job_id), "w", 1)
    channel = ProgressChannel.from_url(REDIS_URL)
    channel.publish(
        job_id,
        {
            "type": "progress",
            "iteration": 4,
            "total": 10,
            "percent": 40.0,
            "losses": {"total": 2.0},
            "ms_per_iter": 100.0,
            "eta_s": 0.6,
        },
    )
    progress = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()["progress"]
    assert progress["iteration"] == 4 and progress["percent"] == 40.0
    assert progress["eta_s"] == 0.6 and progress["losses"] == {"total": 2.0}


def test_finished_job_shows_the_database_not_stale_live_progress(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = submit(client, auth, iterations="10").get_json()["id"]
    with session_factory(settings.database_url)() as session:
        claim_job(session, uuid.UUID(job_id), "w", 1)
        end_job(
            session,
            uuid.UUID(job_id),
            JobStatus.FAILED,
            only_if=run_is(1),
            iteration=3,
            error_code=FailureCode.TIME_LIMIT,
            error_message="the job ran past its time limit; lower max_size",
        )
    ProgressChannel.from_url(REDIS_URL).publish(
        job_id, {"type": "progress", "iteration": 9, "total": 10, "ms_per_iter": 5.0}
    )
    body = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()
    assert body["progress"]["iteration"] == 3 and body["progress"]["eta_s"] is None
    assert body["error"] == {
        "code": "time_limit",
        "message": "the job ran past its time limit; lower max_size",
    }
    assert body["timings"]["run_s"] is not None and body["attempts"] == 1
    assert set(body["links"]) == {"self", "result", "preview", "events", "cancel", "deliveries"}


def test_result_and_preview_once_there(client: FlaskClient, auth: dict, settings: Settings) -> None:
    job_id = submit(client, auth, output_format="jpeg").get_json()["id"]
    storage = open_storage(settings)
    jpeg, png = png_bytes(fmt="JPEG"), png_bytes()
    storage.put(f"jobs/{job_id}/result.jpg", jpeg)
    storage.put(f"jobs/{job_id}/preview.png", png)
    with session_factory(settings.database_url)() as session:
        claim_job(session, uuid.UUID(job_id), "w", 1)
        job_store.set_preview(session, uuid.UUID(job_id), 1, f"jobs/{job_id}/preview.png", 9)
        end_job(
            session,
            uuid.UUID(job_id),
            JobStatus.SUCCEEDED,
            only_if=run_is(1),
            result_key=f"jobs/{job_id}/result.jpg",
        )
    result = client.get(f"/v1/jobs/{job_id}/result", headers=auth)
    assert (result.status_code, result.mimetype, result.data) == (200, "image/jpeg", jpeg)
    preview = client.get(f"/v1/jobs/{job_id}/preview", headers=auth)
    assert (preview.status_code, preview.mimetype, preview.data) == (200, "image/png", png)
    canceled = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert canceled.status_code == 409 and "succeeded" in canceled.get_json()["detail"]


def test_rate_limit_per_key_is_429_with_retry_after(
    settings: Settings, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = create_app(
        settings.model_copy(update={"rate_limit_per_minute": 3}), task_sender=sender
    ).test_client()
    key, other = make_key(settings, "busy"), make_key(settings, "quiet")
    assert [client.get("/v1/jobs", headers=key).status_code for _ in range(3)] == [200] * 3
    limited = client.get("/v1/jobs", headers=key)
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "more than 3 requests in the last minute" in limited.get_json()["detail"]
    assert client.get("/v1/jobs", headers=other).status_code == 200, "the limit is per key"


def test_active_jobs_per_key_are_capped(
    settings: Settings, sender: RecordingSender, tmp_path: Path
) -> None:
    client = create_app(
        settings.model_copy(update={"max_active_jobs_per_key": 2}), task_sender=sender
    ).test_client()
    key = make_key(settings, "greedy")
    first, _ = submit(client, key).get_json()["id"], submit(client, key)
    refused = submit(client, key)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert "limit is 2" in refused.get_json()["detail"]
    assert len(sender.sent) == 2
    assert len(client.get("/v1/jobs", headers=key).get_json()["jobs"]) == 2
    assert len(list((tmp_path / "storage" / "jobs").iterdir())) == 2, "nothing stored for it"
    client.post(f"/v1/jobs/{first}/cancel", headers=key)
    assert submit(client, key).status_code == 202


def test_database_failure_removes_the_stored_inputs(
    client: FlaskClient,
    auth: dict,
    sender: RecordingSender,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(session: Session) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", refuse)
    response = submit(client, auth)
    monkeypatch.undo()
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert "disk I/O" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert [p for p in (tmp_path / "storage").rglob("*") if p.is_file()] == []
    assert sender.sent == [] and client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


def test_storage_failure_is_503_and_leaves_nothing(
    client: FlaskClient, auth: dict, sender: RecordingSender, tmp_path: Path
) -> None:
    storage = client.application.extensions["stylize_storage"]

    class FailingOnStyles:
        def __getattr__(self, name: str) -> object:
            return getattr(storage, name)

        def put(self, key: str, data: bytes) -> None:
            if "style" in key:
                raise StorageError("bucket unreachable")
            storage.put(key, data)

    client.application.extensions["stylize_storage"] = FailingOnStyles()
    response = submit(client, auth)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert [p for p in (tmp_path / "storage").rglob("*") if p.is_file()] == []
    assert sender.sent == [] and client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


def make_admin_key(settings: Settings, **limits: int) -> dict[str, str]:
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "admin", admin=True, **limits)
    return {"Authorization": f"Bearer {secret}"}


def test_an_admin_key_lists_and_reads_every_job_but_changes_none(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    theirs = submit(client, auth).get_json()["id"]
    admin = make_admin_key(settings)
    mine = submit(client, admin).get_json()["id"]
    everyone = client.get("/v1/jobs?owner=all", headers=admin).get_json()["jobs"]
    assert [job["id"] for job in everyone] == [mine, theirs]
    assert [job["id"] for job in client.get("/v1/jobs", headers=admin).get_json()["jobs"]] == [
        mine
    ], "without owner=all an admin sees its own jobs"
    assert client.get(f"/v1/jobs/{theirs}", headers=admin).status_code == 200
    assert client.get(f"/v1/jobs/{theirs}/result", headers=admin).status_code == 409, "read"
    assert client.post(f"/v1/jobs/{theirs}/cancel", headers=admin).status_code == 404
    assert client.get(f"/v1/jobs/{theirs}", headers=auth).get_json()["status"] == "queued"


def test_owner_all_needs_an_admin_key(client: FlaskClient, auth: dict, settings: Settings) -> None:
    submit(client, make_admin_key(settings))
    refused = client.get("/v1/jobs?owner=all", headers=auth)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert "--admin" in refused.get_json()["detail"]
    wrong = client.get("/v1/jobs?owner=everyone", headers=auth)
    assert wrong.status_code == 422 and wrong.get_json()["errors"][0]["field"] == "owner"


def test_a_key_s_own_limits_replace_the_defaults(
    settings: Settings, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = create_app(settings, task_sender=sender).test_client()
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "small", max_active_jobs=1, rate_limit_per_minute=4)
    small = {"Authorization": f"Bearer {secret}"}
    assert submit(client, small).status_code == 202
    second = submit(client, small)
    assert second.status_code == 429 and "limit is 1" in second.get_json()["detail"]
    statuses = [client.get("/v1/jobs", headers=small).status_code for _ in range(3)]
    assert statuses == [200, 200, 429], "2 submits + 2 reads = its 4 a minute"
    assert client.get("/v1/jobs", headers=make_key(settings, "default")).status_code == 200


def test_what_the_fuzzer_found_schema_valid_is_accepted(client: FlaskClient, auth: dict) -> None:
    """An empty cursor is the first page, an empty params part means every default."""
    job_id = submit(client, auth, params="").get_json()["id"]
    first = client.get("/v1/jobs?cursor=", headers=auth)
    assert first.status_code == 200 and [job["id"] for job in first.get_json()["jobs"]] == [job_id]
    unknown = client.get("/v1/jobs?stauts=queued", headers=auth)
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"] == [
        {"field": "stauts", "message": "unknown query parameter; use status, limit, cursor, owner"}
    ]
    assert client.get("/v1/jobs?cursor=1-" + "0" * 32, headers=auth).get_json()["jobs"] == []
