"""Moving a job row and announcing it: a compare-and-set update of the row and its webhook in
the outbox, in one transaction. A job's start (``claim_job``) is here; its end is
shared/job_end.py, which moves the row the same way.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Update, update
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.db.job import Job, JobStatus
from shared.webhooks.outbox import queue_delivery


def move_and_announce(session: Session, job_id: uuid.UUID, move: Update, event: str) -> Job | None:
    """Run ``move`` (a compare-and-set update of one job row) and, if it won, put the job's
    ``event`` webhook in the outbox in the same transaction; the moved job, or None."""
    try:
        if session.execute(move.execution_options(synchronize_session=False)).rowcount != 1:
            session.rollback()
            return None
        job = session.get(Job, job_id, populate_existing=True)
        assert job is not None  # moved a moment ago in this transaction
        queue_delivery(session, job, event)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return job


def claim_job(
    session: Session,
    job_id: uuid.UUID,
    worker: str,
    attempt: int,
    weights_source: str | None = None,
) -> Job | None:
    """Start ``attempt`` (1-based) of a queued job for ``worker``, recording the weights it
    will use, and queue its ``running`` webhook in the same transaction; the claimed job, or
    None if it is not due.

    The row must be ``queued`` with ``attempts == attempt - 1``: a duplicate, late or stale
    message (a finished job, or an attempt the reaper has since replaced) claims nothing.
    """
    now = utcnow()
    move = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value, Job.attempts == attempt - 1)
        .values(
            status=JobStatus.RUNNING.value,
            worker=worker,
            weights_source=weights_source,
            started_at=now,
            heartbeat_at=now,
            attempts=attempt,
            updated_at=now,
        )
    )
    return move_and_announce(session, job_id, move, "running")
