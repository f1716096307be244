"""Typed views of the API's JSON. Unknown fields are kept, so newer servers do not break them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Progress(_Body):
    """How far a job is: iteration of total, percent, losses, ms per iteration, ETA."""

    iteration: int = 0
    total: int = 0
    percent: float = 0.0
    losses: dict[str, float] | None = None
    ms_per_iter: float | None = None
    eta_s: float | None = None


class JobError(_Body):
    """Why a job failed: a code from the API's list and a message saying what to do."""

    code: str
    message: str | None = None


class Timings(_Body):
    """When the job was created, started and finished (ISO 8601), and the spans between."""

    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    queue_s: float | None = None
    run_s: float | None = None
    warmup_s: float | None = None


class Job(_Body):
    """A job as ``GET /v1/jobs/<id>`` shows it."""

    id: str
    status: str
    params: dict[str, Any]
    progress: Progress
    timings: Timings
    metrics: dict[str, Any] | None = None
    weights_source: str | None = None
    worker: str | None = None
    attempts: int = 0
    error: JobError | None = None
    links: dict[str, str] = {}

    @property
    def done(self) -> bool:
        """True once the job succeeded, failed or was canceled."""
        return self.status in TERMINAL_STATUSES


class JobPage(_Body):
    """One page of ``GET /v1/jobs``; pass ``next_cursor`` back for the next."""

    jobs: list[Job]
    next_cursor: str | None = None
