"""How one delivery of a job's message ended, as the worker saw it: a typed value."""

from __future__ import annotations

import enum

from shared.db.job import JobStatus


class RunOutcome(enum.StrEnum):
    """The job ended (``succeeded``, ``failed``, ``canceled``), or the run did not end it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REQUEUED = "requeued"  # the worker is stopping: the job went back to the queue
    SKIPPED = "skipped"  # the message claimed nothing (duplicate, late, or not due)
    LOST = "lost"  # another run or the reaper owns the row: this run wrote nothing more

    @classmethod
    def ended(cls, status: JobStatus) -> RunOutcome:
        """The outcome of a run that ended its job ``status``."""
        return cls(status.value)
