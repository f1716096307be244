"""Job-store queries and the status compare-and-set, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.api_keys import create_key
from shared.db import job_store
from shared.db.base import utcnow
from shared.db.job import Job, JobStatus
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.params import JobParams


def make_job(session: Session, owner_id: uuid.UUID, **fields: object) -> Job:
    job = Job(
        owner_id=owner_id,
        params={"iterations": 10},
        content_key="jobs/x/content.png",
        style_keys=["jobs/x/style-1.png"],
        total_iterations=10,
        **fields,
    )
    session.add(job)
    session.commit()
    return job


def claim(session: Session, job_id: uuid.UUID, worker: str, attempt: int) -> bool:
    """Whether the claim won."""
    return claim_job(session, job_id, worker, attempt) is not None


def finish(
    session: Session, job_id: uuid.UUID, attempt: int, status: JobStatus, **fields: object
) -> bool:
    """End run ``attempt`` through the one end of every job; whether it won."""
    return end_job(session, job_id, status, only_if=run_is(attempt), **fields) is not None


def cancel_queued(session: Session, job_id: uuid.UUID) -> bool:
    """Cancel a queued job as the API does; whether it won."""
    only_queued = [Job.status == JobStatus.QUEUED.value]
    return end_job(session, job_id, JobStatus.CANCELED, only_if=only_queued) is not None


@pytest.fixture
def owner(session: Session) -> uuid.UUID:
    key, _ = create_key(session, "owner")
    return key.id


def test_claim_succeeds_once(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    assert claim(session, job.id, "worker-a", 1) is True
    assert claim(session, job.id, "worker-b", 1) is False
    session.refresh(job)
    assert (job.status, job.worker, job.attempts) == ("running", "worker-a", 1)
    assert job.started_at is not None


def test_concurrent_claims_have_one_winner(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    barrier, results = threading.Barrier(8), []

    def race(n: int) -> None:
        with Session(session.get_bind()) as own:
            barrier.wait()
            results.append(claim(own, job.id, f"worker-{n}", 1))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    session.refresh(job)
    assert job.attempts == 1


def test_timestamps_come_back_aware_utc(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    claim_job(session, job.id, "w", 1)
    with Session(session.get_bind()) as fresh:
        loaded = fresh.get(Job, job.id)
        assert loaded is not None and loaded.started_at is not None
        assert loaded.started_at.tzinfo is UTC and loaded.created_at.tzinfo is UTC
        assert timedelta(0) <= utcnow() - loaded.started_at < timedelta(minutes=1)


def test_finish_only_from_running(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    assert finish(session, job.id, 1, JobStatus.SUCCEEDED) is False
    claim_job(session, job.id, "w", 1)
    assert finish(session, job.id, 1, JobStatus.SUCCEEDED, result_key="r.png")
    assert finish(session, job.id, 1, JobStatus.FAILED) is False
    session.refresh(job)
    assert job.status == "succeeded" and job.finished_at is not None


def test_cancel_queued_at_once_and_flag_running(session: Session, owner: uuid.UUID) -> None:
    queued, running = make_job(session, owner), make_job(session, owner)
    claim_job(session, running.id, "w", 1)
    assert cancel_queued(session, queued.id)
    assert claim(session, queued.id, "w", 1) is False, "a canceled job never runs"
    assert not cancel_queued(session, running.id)
    assert job_store.flag_cancel(session, running.id) is JobStatus.RUNNING
    session.refresh(running)
    assert running.cancel_requested is True


def test_a_claim_compares_the_attempt(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    assert claim(session, job.id, "w", 2) is False, "attempt 2 before attempt 1"
    assert claim(session, job.id, "w", 1) is True
    assert job_store.requeue_run(session, job.id, 1) is True
    session.refresh(job)
    assert (job.status, job.attempts, job.worker, job.sent_at) == ("queued", 1, None, None)
    assert claim(session, job.id, "late", 1) is False, "a late copy of attempt 1"
    assert claim(session, job.id, "w2", 2) is True
    session.refresh(job)
    assert (job.status, job.attempts, job.worker) == ("running", 2, "w2")


def test_a_stale_run_writes_nothing(session: Session, owner: uuid.UUID) -> None:
    """Once attempt 2 owns the row, attempt 1 (a zombie worker) can change nothing."""
    job = make_job(session, owner)
    claim_job(session, job.id, "old", 1)
    job_store.requeue_run(session, job.id, 1)
    claim_job(session, job.id, "new", 2)
    assert job_store.beat(session, job.id, 1) is False
    assert job_store.set_preview(session, job.id, 1, "jobs/x/preview.png", 10) is False
    gone = job_store.record_progress(
        session, job.id, 1, iteration=9, losses={"total": 1.0}, ms_per_iter=1
    )
    assert gone is None, "not this run's row"
    assert finish(session, job.id, 1, JobStatus.SUCCEEDED) is False
    assert job_store.requeue_run(session, job.id, 1) is False
    session.refresh(job)
    assert (job.status, job.attempts, job.worker, job.iteration) == ("running", 2, "new", 0)
    assert job.preview_key is None
    assert finish(session, job.id, 2, JobStatus.SUCCEEDED) is True


def test_mark_unsent_only_touches_queued_jobs(session: Session, owner: uuid.UUID) -> None:
    queued, running = make_job(session, owner, sent_at=utcnow()), make_job(session, owner)
    claim_job(session, running.id, "w", 1)
    job_store.mark_unsent(session, queued.id)
    job_store.mark_unsent(session, running.id)
    session.refresh(queued)
    session.refresh(running)
    assert queued.sent_at is None and running.status == "running"


def test_progress_only_while_running(session: Session, owner: uuid.UUID) -> None:
    job = make_job(session, owner)
    job_store.record_progress(session, job.id, 1, iteration=3, losses={"total": 1.0}, ms_per_iter=9)
    session.refresh(job)
    assert job.iteration == 0
    claim_job(session, job.id, "w", 1)
    job_store.record_progress(session, job.id, 1, iteration=3, losses={"total": 1.0}, ms_per_iter=9)
    session.refresh(job)
    assert (job.iteration, job.losses, job.ms_per_iter) == (3, {"total": 1.0}, 9)


def test_list_newest_first_with_cursor_and_filter(session: Session, owner: uuid.UUID) -> None:
    other, _ = create_key(session, "other")
    base = utcnow()
    jobs = [make_job(session, owner, created_at=base + timedelta(seconds=n)) for n in range(5)]
    make_job(session, other.id)
    claim_job(session, jobs[1].id, "w", 1)
    page, cursor = job_store.list_jobs(session, owner, limit=2)
    assert [job.id for job in page] == [jobs[4].id, jobs[3].id]
    page, cursor = job_store.list_jobs(session, owner, limit=2, cursor=cursor)
    assert [job.id for job in page] == [jobs[2].id, jobs[1].id]
    page, cursor = job_store.list_jobs(session, owner, limit=2, cursor=cursor)
    assert [job.id for job in page] == [jobs[0].id] and cursor is None
    running, _ = job_store.list_jobs(session, owner, status="running")
    assert [job.id for job in running] == [jobs[1].id]
    with pytest.raises(job_store.CursorError):
        job_store.list_jobs(session, owner, cursor="not-a-cursor")


def test_cursor_pages_through_jobs_created_at_the_same_instant(
    session: Session, owner: uuid.UUID
) -> None:
    same = utcnow()
    created = {make_job(session, owner, created_at=same).id for _ in range(5)}
    seen, cursor = [], None
    for _ in range(3):
        page, cursor = job_store.list_jobs(session, owner, limit=2, cursor=cursor)
        seen += [job.id for job in page]
    assert cursor is None and len(seen) == 5 and set(seen) == created
    assert seen == sorted(seen, reverse=True)


def test_list_refuses_a_limit_below_one(session: Session, owner: uuid.UUID) -> None:
    with pytest.raises(ValueError):
        job_store.list_jobs(session, owner, limit=0)


def test_idempotency_key_unique_per_owner(session: Session, owner: uuid.UUID) -> None:
    other, _ = create_key(session, "other")
    make_job(session, owner, idempotency_key="k1")
    make_job(session, other.id, idempotency_key="k1")
    assert job_store.find_by_idempotency_key(session, owner, "k1") is not None
    with pytest.raises(IntegrityError):
        make_job(session, owner, idempotency_key="k1")
    session.rollback()


def test_create_job_writes_a_queued_row(session: Session, owner: uuid.UUID) -> None:
    params = JobParams(iterations=7, output_format="jpeg")
    fields = {
        "owner_id": owner,
        "params": params,
        "content_key": "jobs/a/content.png",
        "style_keys": ["jobs/a/style-1.png"],
        "max_attempts": 5,
        "idempotency_key": "k",
    }
    job = job_store.create_job(session, job_id=uuid.uuid4(), request_hash="h", **fields)
    with Session(session.get_bind()) as fresh:
        loaded = fresh.get(Job, job.id)
        assert loaded is not None
        assert (loaded.status, loaded.iteration, loaded.total_iterations) == ("queued", 0, 7)
        assert (loaded.max_attempts, loaded.request_hash) == (5, "h")
        assert JobParams.model_validate(loaded.params) == params
    with pytest.raises(IntegrityError):
        job_store.create_job(session, job_id=uuid.uuid4(), **fields)
    assert job_store.count_active_jobs(session, owner) == 1, "the session is usable again"


def test_count_active_jobs_counts_queued_and_running_of_one_owner(
    session: Session, owner: uuid.UUID
) -> None:
    other, _ = create_key(session, "other")
    _, running, done, canceled = (make_job(session, owner) for _ in range(4))
    make_job(session, other.id)
    for job in (running, done):
        claim_job(session, job.id, "w", 1)
    finish(session, done.id, 1, JobStatus.SUCCEEDED)
    cancel_queued(session, canceled.id)
    assert job_store.count_active_jobs(session, owner) == 2
    assert job_store.count_active_jobs(session, other.id) == 1
