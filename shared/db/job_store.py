"""Job-store queries: creation, lookup, listing and the compare-and-set status moves."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from shared.db.api_key import ApiKey
from shared.db.base import utcnow
from shared.db.job import ACTIVE_STATUSES, Job, JobStatus
from shared.params import JobParams

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CursorError(ValueError):
    """A pagination cursor that this service did not issue."""


class ActiveJobLimit(Exception):
    """The owner already has ``active`` queued or running jobs, as many as allowed."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} active jobs")
        self.active = active


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
    input_bytes: int = 0,
    max_active: int | None = None,
) -> Job:
    """Write a ``queued`` job and commit; on any error roll back and re-raise.

    With ``max_active``, the owner's active jobs are counted in the same transaction, under a
    lock on the owner's key row (a write to it: a row lock on PostgreSQL, the write lock on
    SQLite), so racing submits never pass the limit together: ActiveJobLimit. IntegrityError
    means the owner already has a job with ``idempotency_key``.
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
        input_bytes=input_bytes,
        sent_at=utcnow(),  # the caller sends next; mark_unsent if that fails
    )
    try:
        if max_active is not None:
            session.execute(
                update(ApiKey).where(ApiKey.id == owner_id).values(name=ApiKey.name)
            )  # takes the lock until commit
            active = count_active_jobs(session, owner_id)
            if active >= max_active:
                raise ActiveJobLimit(active)
        session.add(job)
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
    return session.scalar(select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key))


# A position in newest-first order: the created_at (µs since the epoch) and id of the last job
# seen. Every string of this shape is a position, so any cursor the pattern allows is served.
CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(job: Job) -> str:
    """The cursor pointing just after ``job`` in newest-first order."""
    micros = (job.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{job.id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Parse a cursor of :func:`encode_cursor`'s shape; CursorError when it is not one."""
    if not _CURSOR.match(cursor):
        raise CursorError("cursor is not one this service issued; drop it to start over")
    micros, job_id = cursor.split("-")
    return EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=job_id)


def list_jobs(
    session: Session,
    owner_id: uuid.UUID | None,
    *,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[Sequence[Job], str | None]:
    """The owner's (None: everyone's) jobs newest first, and the next page's cursor (or None);
    deleted jobs are left out."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(Job).where(Job.deleted_at.is_(None))
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
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


def _update_run(session: Session, job_id: uuid.UUID, attempt: int, **values: Any) -> bool:
    """Update the row only while it is ``running`` this ``attempt``; True if it still was."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == attempt)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def beat(session: Session, job_id: uuid.UUID, attempt: int) -> bool:
    """Refresh the heartbeat of ``attempt``; False once the row is no longer that run's."""
    return _update_run(session, job_id, attempt, heartbeat_at=utcnow())


def requeue_run(session: Session, job_id: uuid.UUID, attempt: int) -> bool:
    """Put a running job back in the queue, keeping ``attempts`` (its next run is attempt + 1).

    ``sent_at`` is cleared, so the reaper sends it again on its next pass.
    """
    return _update_run(
        session,
        job_id,
        attempt,
        status=JobStatus.QUEUED.value,
        worker=None,
        heartbeat_at=None,
        sent_at=None,
    )


def mark_unsent(session: Session, job_id: uuid.UUID) -> None:
    """Record that the task message of a queued job was not sent (the reaper sends it)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(sent_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


def flag_cancel(session: Session, job_id: uuid.UUID) -> JobStatus | None:
    """Ask a running job to stop (its worker reads the flag with its progress); the job's
    status afterwards, or None if it is gone."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(cancel_requested=True, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    job = session.get(Job, job_id, populate_existing=True)
    return JobStatus(job.status) if job else None


def record_progress(
    session: Session,
    job_id: uuid.UUID,
    attempt: int,
    *,
    iteration: int,
    losses: dict[str, float],
    ms_per_iter: float,
) -> bool | None:
    """Store the latest progress of ``attempt`` and refresh its heartbeat; whether a cancel was
    asked for, or None if the row is no longer this run's."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == attempt)
        .values(
            iteration=iteration,
            losses=losses,
            ms_per_iter=ms_per_iter,
            progress_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
        .returning(Job.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    cancel = result.scalar_one_or_none()
    session.commit()
    return cancel


def set_preview(session: Session, job_id: uuid.UUID, attempt: int, key: str, size: int) -> bool:
    """Record the storage key and size of the latest preview of ``attempt``; False if not its
    run."""
    return _update_run(session, job_id, attempt, preview_key=key, preview_bytes=size)


def stale_running_jobs(session: Session, cutoff: datetime, limit: int = 100) -> Sequence[Job]:
    """Running jobs whose heartbeat is older than ``cutoff`` (worker gone), oldest first."""
    query = select(Job).where(Job.status == JobStatus.RUNNING.value, Job.heartbeat_at < cutoff)
    query = query.order_by(Job.heartbeat_at).limit(limit)
    return session.scalars(query.execution_options(populate_existing=True)).all()


def stale_run(job: Job, cutoff: datetime) -> list[ColumnElement[bool]]:
    """The conditions under which ``job`` is still the stale run that was read: running, the
    same attempt, its heartbeat still older than ``cutoff``."""
    return [
        Job.status == JobStatus.RUNNING.value,
        Job.attempts == job.attempts,
        Job.heartbeat_at < cutoff,
    ]


def requeue_stale_run(session: Session, job: Job, cutoff: datetime) -> bool:
    """Put a stale run back in the queue if it is still that stale run; True if this won.

    The worker and ``sent_at`` are cleared: the reaper sends the job again.
    """
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, *stale_run(job, cutoff))
        .values(
            status=JobStatus.QUEUED.value,
            worker=None,
            heartbeat_at=None,
            sent_at=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def running_jobs(session: Session, limit: int = 1000) -> Sequence[Job]:
    """Every running job, oldest start first (at most one per worker slot)."""
    query = select(Job).where(Job.status == JobStatus.RUNNING.value).order_by(Job.started_at)
    return session.scalars(query.limit(limit).execution_options(populate_existing=True)).all()


def unsent_queued_jobs(session: Session, sent_before: datetime, limit: int = 100) -> Sequence[Job]:
    """Queued jobs never sent, or last sent before ``sent_before``, oldest first."""
    query = select(Job).where(
        Job.status == JobStatus.QUEUED.value,
        or_(Job.sent_at.is_(None), Job.sent_at < sent_before),
    )
    query = query.order_by(Job.created_at).limit(limit)
    return session.scalars(query.execution_options(populate_existing=True)).all()


def mark_sent(session: Session, job: Job, now: datetime) -> bool:
    """Compare-and-set ``sent_at`` of a still-queued ``job`` from the value read to ``now``."""
    last_send = Job.sent_at.is_(None) if job.sent_at is None else Job.sent_at == job.sent_at
    result = session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.QUEUED.value,
            Job.attempts == job.attempts,
            last_send,
        )
        .values(sent_at=now, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1
