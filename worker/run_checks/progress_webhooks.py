"""A ``progress`` webhook each time the job passes another 10 %, if it asked for them.

The delivery goes into the outbox (its own small transaction) with the job document as it is
at that iteration; ``stylize webhooks`` sends it. A database outage skips one, never the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.webhooks.outbox import queue_delivery
from worker.engine.hooks import Progress, Stop
from worker.run_checks.base import RunState

log = logging.getLogger(__name__)


@dataclass
class ProgressWebhooks:
    """Queues a ``progress`` delivery at each tenth of the job passed; never stops the run."""

    sessions: sessionmaker[Session]
    passed: int = 0  # tenths already announced

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        tenths = progress.iteration * 10 // progress.total
        if tenths <= self.passed:
            return None
        self.passed = tenths
        try:
            with self.sessions() as session:
                job = job_store.get_job(session, state.job_id)
                if job is not None and queue_delivery(session, job, "progress", state.last_event):
                    session.commit()
        except SQLAlchemyError as exc:
            log.warning("progress webhook of job %s skipped (%s)", state.job_id, exc)
        return None
