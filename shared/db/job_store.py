"""Job-store queries: creation, lookup, listing and the compare-and-set status moves."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.db.job import ACTIVE_STATUSES, FailureCode, Job, JobStatus
from shared.params import JobParams


class CursorError(ValueError):
    """A pagination cursor that this service did not issue."""


def create_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    owner_id: uuid.UUID,
    params: JobParams,
    content_key: str,
    style_keys: Sequence[str],
    max_attempts: int,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> Job:
    """Write a ``queued`` job and commit; on any error roll back and re-raise.

    IntegrityError means the owner already has a job with ``idempotency_key``.
    """
    job = Job(
        id=job_id,
        owner_id=owner_id,
        params=params.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        content_key=content_key,
        style_keys=list(style_keys),
        total_iterations=params.iterations,
        max_attempts=max_attempts,
    )
    session.add(job)
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    return job


def count_active_jobs(session: Session, owner_id: uuid.UUID) -> int:
    """How many of the owner's jobs are queued or running."""
    statuses = [status.value for status in ACTIVE_STATUSES]
    query = select(func.count()).select_from(Job)
    return session.scalar(query.where(Job.owner_id == owner_id, Job.status.in_(statuses))) or 0


def count_jobs_by_status(session: Session) -> dict[JobStatus, int]:
    """How many jobs there are in each status (statuses without jobs are left out)."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {JobStatus(status): count for status, count in rows}


def get_job(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID | None = None) -> Job | None:
    """The job, or None when it does not exist or belongs to another owner."""
    job = session.get(Job, job_id)
    if job is None or (owner_id is not None and job.owner_id != owner_id):
        return None
    return job


def find_by_idempotency_key(session: Session, owner_id: uuid.UUID, key: str) -> Job | None:
    """The owner's job created with ``Idempotency-Key: key``, if any."""
    return session.scalar(
        select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    )


def encode_cursor(job: Job) -> str:
    """An opaque cursor pointing just after ``job`` in newest-first order."""
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Parse a cursor from :func:`encode_cursor`; CursorError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|")
        return datetime.fromisoformat(created), uuid.UUID(job_id)
    except (ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not one this service issued; drop it to start over") from None


def list_jobs(
    session: Session,
    owner_id: uuid.UUID,
    *,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[Sequence[Job], str | None]:
    """The owner's jobs newest first, and the cursor of the next page (None on the last)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(Job).where(Job.owner_id == owner_id)
    if status is not None:
        query = query.where(Job.status == status)
    if cursor is not None:
        created, job_id = decode_cursor(cursor)
        query = query.where(
            or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id))
        )
    jobs = session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1))
    page = list(jobs)
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return page[:limit], next_cursor


def transition(
    session: Session,
    job_id: uuid.UUID,
    expected: JobStatus | tuple[JobStatus, ...],
    new: JobStatus,
    **fields: Any,
) -> bool:
    """Compare-and-set the status from ``expected`` to ``new``; True if this call won."""
    allowed = (expected,) if isinstance(expected, JobStatus) else expected
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([status.value for status in allowed]))
        .values(status=new.value, updated_at=utcnow(), **fields)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def claim_job(
    session: Session, job_id: uuid.UUID, worker: str, weights_source: str | None = None
) -> bool:
    """Move a queued job to running for ``worker`` (recording the weights it will use);
    False if another delivery got there first."""
    now = utcnow()
    return transition(
        session,
        job_id,
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        worker=worker,
        weights_source=weights_source,
        started_at=now,
        heartbeat_at=now,
        attempts=Job.attempts + 1,
    )


def finish_job(session: Session, job_id: uuid.UUID, status: JobStatus, **fields: Any) -> bool:
    """End a running job with a terminal ``status``; False if it was not running."""
    return transition(session, job_id, JobStatus.RUNNING, status, finished_at=utcnow(), **fields)


def fail_queued_job(
    session: Session, job_id: uuid.UUID, code: FailureCode, message: str
) -> bool:
    """Mark a job that never reached a worker as failed (e.g. the broker refused it)."""
    return transition(
        session,
        job_id,
        JobStatus.QUEUED,
        JobStatus.FAILED,
        error_code=code,
        error_message=message,
        finished_at=utcnow(),
    )


def request_cancel(session: Session, job_id: uuid.UUID) -> JobStatus:
    """Cancel a queued job at once, or flag a running one; return the status afterwards."""
    if transition(
        session, job_id, JobStatus.QUEUED, JobStatus.CANCELED, finished_at=utcnow()
    ):
        return JobStatus.CANCELED
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(cancel_requested=True, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    job = session.get(Job, job_id, populate_existing=True)
    return JobStatus(job.status) if job else JobStatus.CANCELED


def record_progress(
    session: Session,
    job_id: uuid.UUID,
    *,
    iteration: int,
    losses: dict[str, float],
    ms_per_iter: float,
) -> None:
    """Store the latest progress of a running job and refresh its heartbeat."""
    now = utcnow()
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(
            iteration=iteration,
            losses=losses,
            ms_per_iter=ms_per_iter,
            progress_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def set_preview(session: Session, job_id: uuid.UUID, key: str) -> None:
    """Record the storage key of the job's latest preview image."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(preview_key=key, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
