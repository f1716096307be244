"""The job document: one pydantic model that is a job's JSON everywhere.

The API's job responses, the ``data`` of webhook deliveries and of SSE ``status`` events are
dumped from :class:`JobDocument`, and ``/openapi.json`` takes the ``Job`` schema from it, so the
three can never disagree. It is built from the database row (the truth) merged with the live
Redis progress (:func:`job_document`).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from shared.db.job import FailureCode, Job, JobStatus
from shared.job_events import progress
from shared.params import JobParams

FAILURE_CODE_SCHEMA = {
    "oneOf": [{"const": code.value, "description": code.meaning} for code in FailureCode]
}


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True)


class JobProgress(_Document):
    """How far a job is; an ETA only while it runs."""

    iteration: int = Field(ge=0, description="Iterations done, all pyramid levels together.")
    total: int = Field(ge=1, description="Iterations the job runs in all.")
    percent: float = Field(ge=0, le=100)
    losses: dict[str, float] | None = Field(
        description="The latest weighted losses by kind (content, style, tv) and their total."
    )
    ms_per_iter: float | None = Field(description="Median of the latest iterations, ms.")
    eta_s: float | None = Field(description="Seconds until the job ends (while it runs).")


class JobTimings(_Document):
    """When the job was created, started and finished, and the spans between (seconds)."""

    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queue_s: float | None = Field(description="created_at to started_at.")
    run_s: float | None = Field(description="started_at to finished_at.")
    warmup_s: float | None = Field(description="Set-up and tracing before steady iterations.")


class JobError(_Document):
    """Why a job failed: a code and a message saying what to do next."""

    code: Annotated[FailureCode, WithJsonSchema(FAILURE_CODE_SCHEMA)]
    message: str


class JobLinks(_Document):
    """Where the job's routes are."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    self_: str = Field(alias="self")
    events: str
    cancel: str
    preview: str
    result: str
    deliveries: str


class JobDocument(_Document):
    """A style-transfer job as the API shows it."""

    id: uuid.UUID
    status: JobStatus
    params: JobParams
    progress: JobProgress
    timings: JobTimings
    metrics: dict[str, Any] | None = Field(
        description="What the finished (or stopped) run measured, including style_ratio and "
        "content_ratio (how far the style arrived)."
    )
    weights_source: str | None = Field(description="The VGG16 weights the run used.")
    worker: str | None = Field(description="The worker that ran (or runs) the job.")
    attempts: int = Field(ge=0, description="Runs started (a requeued job runs again).")
    error: JobError | None
    links: JobLinks

    def dump_json(self) -> str:
        """The document as the JSON every channel sends."""
        return self.model_dump_json(by_alias=True)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def job_progress(job: Job, live: dict[str, Any] | None) -> dict[str, Any]:
    """Progress from whichever source is further along, so it never goes backwards.

    The worker's ETA is aged by the time since its event, so it counts down between events.
    """
    iteration, losses, ms, eta = job.iteration, job.losses, job.ms_per_iter, None
    if live and live.get("iteration", 0) >= max(iteration, 1):
        iteration, losses, ms = live["iteration"], live.get("losses"), live.get("ms_per_iter")
        eta = live.get("eta_s")
        if eta is not None and live.get("at") is not None:
            eta = max(0.0, eta - max(0.0, time.time() - live["at"]))
    running = job.status == JobStatus.RUNNING.value
    return progress(iteration, job.total_iterations, losses, ms, running=running, eta_s=eta)


def job_links(job_id: uuid.UUID | str) -> dict[str, str]:
    """The job's routes."""
    base = f"/v1/jobs/{job_id}"
    names = ("events", "cancel", "preview", "result", "deliveries")
    return {"self": base, **{name: f"{base}/{name}" for name in names}}


def job_document(job: Job, live: dict[str, Any] | None = None) -> JobDocument:
    """The public document of ``job``, with ``live`` progress from Redis while it runs."""
    return JobDocument.model_validate(
        {
            "id": job.id,
            "status": job.status,
            "params": job.params,
            "progress": job_progress(job, live),
            "timings": {
                "created_at": job.created_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
                "queue_s": _seconds(job.created_at, job.started_at),
                "run_s": _seconds(job.started_at, job.finished_at),
                "warmup_s": (job.metrics or {}).get("warmup_s"),
            },
            "metrics": job.metrics,
            "weights_source": job.weights_source,
            "worker": job.worker,
            "attempts": job.attempts,
            "error": {"code": job.error_code, "message": job.error_message or ""}
            if job.error_code
            else None,
            "links": job_links(job.id),
        }
    )
