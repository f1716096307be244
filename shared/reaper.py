"""The reaper: every accepted job reaches an end, whatever dies (docs/jobs.md, "Recovery").

One pass looks at three kinds of rows; each change is a compare-and-set on the row (status,
attempt, and the stale heartbeat, start or last send it read), so several reapers can run at
once, and every end goes through ``shared/job_end.py``:

- ``running`` past its hard time limit, whatever its heartbeat says (a stuck run can keep
  beating): ``failed``/``time_limit``;
- ``running`` with a heartbeat older than ``STYLIZE_HEARTBEAT_TIMEOUT_S`` (its worker is gone):
  ``canceled`` if a cancel was asked for, ``failed``/``time_limit`` past its hard time limit,
  ``failed``/``worker_lost`` once ``attempts`` reached ``max_attempts``, else back to ``queued``;
- ``queued`` and never sent, or sent long ago and still not claimed (the broker lost the
  message): sent again. The wait before a re-send starts at ``STYLIZE_RESEND_AFTER_S`` and grows
  with the job's age (at most 16 times), so a long queue is not flooded with duplicates; a
  duplicate message is harmless, the claim compares the attempt.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.db.base import utcnow
from shared.db.job import FailureCode, Job, JobStatus
from shared.job_end import end_job, failure
from shared.job_events import status_event
from shared.job_limits import hard_time_limit_s
from shared.params import JobParams
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from shared.task_names import TaskSender

log = logging.getLogger(__name__)
MAX_RESEND_BACKOFF = 16


@dataclass
class ReapReport:
    """What one pass did, by job id."""

    requeued: list[uuid.UUID] = field(default_factory=list)
    ended: dict[uuid.UUID, str] = field(default_factory=dict)  # job -> status or failure code
    sent: list[uuid.UUID] = field(default_factory=list)


def reap(
    sessions: sessionmaker[Session],
    send: TaskSender,
    settings: Settings,
    *,
    channel: ProgressChannel | None = None,
    now: datetime | None = None,
) -> ReapReport:
    """One pass over overdue and stale running jobs, then over queued jobs needing a send."""
    now = now or utcnow()
    report = ReapReport()
    cutoff = now - timedelta(seconds=settings.heartbeat_timeout_s)
    with sessions() as session:
        for job in job_store.running_jobs(session):
            end_overdue_run(session, job, now, report, channel)
        for job in job_store.stale_running_jobs(session, cutoff):
            end_lost_run(session, job, cutoff, now, report, channel)
        sent_before = now - timedelta(seconds=settings.resend_after_s)
        for job in job_store.unsent_queued_jobs(session, sent_before):
            if resend_due(job, now, settings.resend_after_s):
                send_job(session, send, job, now, report)
    return report


def end_overdue_run(
    session: Session,
    job: Job,
    now: datetime,
    report: ReapReport,
    channel: ProgressChannel | None,
) -> None:
    """End a run that passed its hard time limit, even while its heartbeat still beats:
    ``canceled`` if a cancel was asked for, else ``failed``/``time_limit``."""
    hard_limit = hard_time_limit_s(JobParams.model_validate(job.params))
    if job.started_at is None or (now - job.started_at).total_seconds() <= hard_limit:
        return
    fields: dict[str, Any] = {}
    status = JobStatus.CANCELED
    if not job.cancel_requested:
        status = JobStatus.FAILED
        fields = failure(
            FailureCode.TIME_LIMIT,
            f"the job ran past its hard time limit ({hard_limit:.0f} s); lower iterations or "
            "max_size",
        )
    still_overdue = [
        Job.status == JobStatus.RUNNING.value,
        Job.attempts == job.attempts,
        Job.started_at < now - timedelta(seconds=hard_limit),
    ]
    if end_job(session, job.id, status, only_if=still_overdue, channel=channel, **fields):
        log.warning("job %s: past its hard time limit on %s; %s", job.id, job.worker, status)
        report.ended[job.id] = fields.get("error_code", status.value)


def end_lost_run(
    session: Session,
    job: Job,
    cutoff: datetime,
    now: datetime,
    report: ReapReport,
    channel: ProgressChannel | None,
) -> None:
    """Decide the fate of a run whose worker stopped answering, and apply it if still stale."""
    fields: dict[str, Any] = {}
    if job.cancel_requested:
        status = JobStatus.CANCELED
    elif job.attempts >= job.max_attempts:
        status = JobStatus.FAILED
        fields = failure(
            FailureCode.WORKER_LOST,
            f"the worker running this job stopped answering on all {job.attempts} attempts; "
            "submit it again (with fewer iterations or a smaller max_size if it keeps "
            "happening) and tell the operator, whose worker logs say why",
        )
    else:
        status = JobStatus.QUEUED
    if status is JobStatus.QUEUED:
        if not job_store.requeue_stale_run(session, job, cutoff):
            return  # the worker came back, or another reaper got there first
        report.requeued.append(job.id)  # sent_at is cleared: the third loop sends it now
        announce(channel, job.id, status_event(status))
    else:
        stale = job_store.stale_run(job, cutoff)
        if end_job(session, job.id, status, only_if=stale, channel=channel, **fields) is None:
            return
        report.ended[job.id] = fields.get("error_code", status.value)
    log.warning(
        "job %s: worker %s silent since %s (attempt %d of %d): %s",
        job.id,
        job.worker,
        job.heartbeat_at,
        job.attempts,
        job.max_attempts,
        fields.get("error_code", status.value),
    )


def resend_due(job: Job, now: datetime, resend_after_s: float) -> bool:
    """Whether a queued job waited long enough since its last send (never sent: at once)."""
    if job.sent_at is None:
        return True
    waited_before = (job.sent_at - job.created_at).total_seconds()
    wait = min(max(resend_after_s, waited_before), MAX_RESEND_BACKOFF * resend_after_s)
    return (now - job.sent_at).total_seconds() >= wait


def send_job(
    session: Session, send: TaskSender, job: Job, now: datetime, report: ReapReport
) -> None:
    """Claim the send with a compare-and-set on ``sent_at``, then send the next attempt."""
    if not job_store.mark_sent(session, job, now):
        return  # claimed, canceled or sent by another reaper meanwhile
    try:
        send(str(job.id), job.attempts + 1, JobParams.model_validate(job.params))
    except Exception as exc:  # the broker is down: the next pass tries again
        log.warning("job %s: could not send it (%s); next pass tries again", job.id, exc)
        job_store.mark_unsent(session, job.id)
        return
    report.sent.append(job.id)


def announce(channel: ProgressChannel | None, job_id: uuid.UUID, event: dict[str, Any]) -> None:
    """Tell live viewers about the reaper's change; best effort, the row is the truth."""
    if channel is None:
        return
    try:
        channel.publish(str(job_id), event)
    except Exception as exc:
        log.warning("job %s: could not publish the %s event: %s", job_id, event["type"], exc)
