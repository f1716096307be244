"""A job's objects in storage going away: on ``DELETE``, and by retention on a schedule.

``delete_job`` ends an active job (a queued one ``canceled`` at once, a running one asked to
stop) and marks it deleted; ``sweep`` (run by the reaper) then removes the objects of ended jobs
that were deleted or are past ``STYLIZE_RETAIN_INPUTS_S`` / ``STYLIZE_RETAIN_RESULTS_S``, and
finally the rows of deleted jobs. Each removal empties the row's byte counts, from which the
storage-used metric is read.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.db.job import TERMINAL_STATUSES, Job, JobStatus
from shared.job_end import end_job
from shared.progress_channel import ProgressChannel
from shared.storage import Storage

log = logging.getLogger(__name__)
SWEEP_BATCH = 200
ENDED = [status.value for status in TERMINAL_STATUSES]


class Deletion(enum.Enum):
    """What a DELETE did: the objects are gone now, or once the running job has stopped."""

    REMOVED = "removed"
    STOPPING = "stopping"


def delete_job(
    session: Session, storage: Storage, job: Job, channel: ProgressChannel | None = None
) -> Deletion:
    """Mark ``job`` deleted; end it if it is active; remove its objects if it has ended."""
    now = utcnow()
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.deleted_at.is_(None))
        .values(deleted_at=now, cancel_requested=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    end_job(
        session,
        job.id,
        JobStatus.CANCELED,
        only_if=[Job.status == JobStatus.QUEUED.value],
        channel=channel,
    )
    session.refresh(job)
    if job.status not in ENDED:
        return Deletion.STOPPING  # the worker stops within an iteration; the sweep removes
    remove_objects(session, storage, job, inputs=True, outputs=True)
    return Deletion.REMOVED


def remove_objects(
    session: Session, storage: Storage, job: Job, *, inputs: bool, outputs: bool
) -> None:
    """Delete the job's inputs and/or its result and preview from storage, then record it."""
    now = utcnow()
    values: dict[str, object] = {"updated_at": now}
    if inputs and job.inputs_removed_at is None:
        for key in [job.content_key, *job.style_keys]:
            storage.delete(key)
        values.update(inputs_removed_at=now, input_bytes=0)
    if outputs and job.outputs_removed_at is None:
        for key in (job.preview_key, job.result_key):
            if key:
                storage.delete(key)
        values.update(outputs_removed_at=now, preview_bytes=0, result_bytes=0)
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


@dataclass
class SweepReport:
    """What one sweep removed, by job id."""

    inputs: list[uuid.UUID] = field(default_factory=list)
    outputs: list[uuid.UUID] = field(default_factory=list)
    rows: int = 0


def sweep(
    session: Session,
    storage: Storage,
    now: datetime,
    retain_inputs: timedelta,
    retain_results: timedelta,
) -> SweepReport:
    """Remove what retention and deletions say must go, for ended jobs only."""
    report = SweepReport()
    due = session.scalars(
        select(Job)
        .where(
            Job.status.in_(ENDED),
            or_(
                and_(
                    Job.inputs_removed_at.is_(None),
                    or_(Job.deleted_at.is_not(None), Job.finished_at < now - retain_inputs),
                ),
                and_(
                    Job.outputs_removed_at.is_(None),
                    or_(Job.deleted_at.is_not(None), Job.finished_at < now - retain_results),
                ),
            ),
        )
        .order_by(Job.finished_at)
        .limit(SWEEP_BATCH)
    ).all()
    for job in due:
        deleted = job.deleted_at is not None
        inputs = deleted or job.finished_at < now - retain_inputs
        outputs = deleted or job.finished_at < now - retain_results
        remove_objects(session, storage, job, inputs=inputs, outputs=outputs)
        if inputs:
            report.inputs.append(job.id)
        if outputs:
            report.outputs.append(job.id)
    result = session.execute(
        delete(Job).where(
            Job.deleted_at.is_not(None),
            Job.status.in_(ENDED),
            Job.inputs_removed_at.is_not(None),
            Job.outputs_removed_at.is_not(None),
        )
    )
    session.commit()
    report.rows = result.rowcount
    return report


def stored_bytes(session: Session) -> int:
    """Bytes every job's objects take in storage (inputs, previews and results)."""
    total = session.scalar(select(func.sum(Job.input_bytes + Job.preview_bytes + Job.result_bytes)))
    return int(total or 0)
