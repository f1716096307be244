"""Ending a job: one function, whoever ends it (a worker, the reaper, a cancel, a deletion).

In one transaction the row moves to its terminal status (a compare-and-set: still active, and
whatever else the caller's ``only_if`` says, e.g. still this run's attempt) and the
``completed`` webhook goes into the outbox; once committed, live viewers get the status event
and the ending process counts it. A job is ended once: a second call finds it no longer active
and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.db.job import ACTIVE_STATUSES, FailureCode, Job, JobStatus
from shared.job_events import status_event
from shared.job_metrics import record_job_end
from shared.job_moves import move_and_announce
from shared.progress_channel import ProgressChannel

log = logging.getLogger(__name__)


def run_is(attempt: int) -> list[ColumnElement[bool]]:
    """``only_if`` for a worker: the row is still ``running`` as run ``attempt``."""
    return [Job.status == JobStatus.RUNNING.value, Job.attempts == attempt]


def failure(code: FailureCode, message: str) -> dict[str, str]:
    """The row fields of a failure."""
    return {"error_code": code.value, "error_message": message}


def end_job(
    session: Session,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    only_if: Sequence[ColumnElement[bool]] = (),
    channel: ProgressChannel | None = None,
    **fields: Any,
) -> Job | None:
    """End the job ``status`` if it is active and ``only_if`` holds; the ended job, or None.

    ``fields`` are further row values (error code and message, result key, metrics...). The
    status event is best effort (the row is the truth); a database error is raised after a
    rollback, and nothing has changed.
    """
    if not status.terminal:
        raise ValueError(f"{status} is not an end")
    active = [state.value for state in ACTIVE_STATUSES]
    now = utcnow()
    move = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_(active), *only_if)
        .values(status=status.value, finished_at=now, updated_at=now, **fields)
    )
    job = move_and_announce(session, job_id, move, "completed")
    if job is None:
        return None
    announce(channel, job)
    record_job_end(job)
    return job


def announce(channel: ProgressChannel | None, job: Job) -> None:
    """Tell live viewers the job's status; best effort, the row is the truth."""
    if channel is None:
        return
    try:
        channel.publish(str(job.id), status_event(job.status, job.error_code, job.error_message))
    except Exception as exc:
        log.warning("job %s: could not publish its %s status: %s", job.id, job.status, exc)
