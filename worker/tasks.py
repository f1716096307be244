"""The job task: claim the row, run the engine with hooks, store the result, end the row."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from dataclasses import dataclass

import numpy as np
from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.images import ImageError, decode_image, encode_image
from shared.job_limits import soft_time_limit_s
from shared.params import JobParams
from shared.progress_channel import ProgressChannel
from shared.settings import Settings, get_settings
from shared.storage import Storage, StorageError, open_storage
from shared.task_names import RUN_JOB_TASK
from worker.engine import EngineInputError, EngineResult
from worker.progress_reporter import PreviewWriter, ProgressReporter
from worker.warm_engine import warm_engine

log = logging.getLogger(__name__)
RESULT_EXTENSIONS = {"png": "png", "jpeg": "jpg"}


class JobFailure(Exception):
    """Ends the job ``failed`` with a code and a message the user can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JobContext:
    """What one job run needs from the process: settings, DB, storage, Redis."""

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    channel: ProgressChannel

    @classmethod
    def from_settings(cls, settings: Settings) -> JobContext:
        """Build the context from the process settings."""
        return cls(
            settings=settings,
            sessions=session_factory(settings.database_url),
            storage=open_storage(settings),
            channel=ProgressChannel.from_url(settings.broker_url),
        )


def worker_name() -> str:
    """The host name recorded on jobs this process runs."""
    return socket.gethostname()


@shared_task(name=RUN_JOB_TASK, ignore_result=True)
def run_job(job_id: str) -> str:
    """Celery entry point: run job ``job_id`` once, however often it is delivered."""
    return execute_job(uuid.UUID(job_id), JobContext.from_settings(get_settings()))


def execute_job(job_id: uuid.UUID, ctx: JobContext) -> str:
    """Run the job and return its final status; duplicate deliveries return 'skipped'."""
    with ctx.sessions() as session:
        if not job_store.claim_job(session, job_id, worker_name()):
            log.info("job %s not queued (missing, running or finished): skipped", job_id)
            return "skipped"
        job = job_store.get_job(session, job_id)
        assert job is not None
    publish_status(ctx, job_id, JobStatus.RUNNING)
    try:
        return run_claimed_job(job, ctx)
    except JobFailure as failure:
        return end_job(
            ctx, job_id, JobStatus.FAILED, error_code=failure.code, error_message=failure.message
        )
    except Exception:
        log.exception("job %s failed unexpectedly", job_id)
        return end_job(
            ctx,
            job_id,
            JobStatus.FAILED,
            error_code="internal_error",
            error_message="the worker hit an unexpected error; submit the job again, "
            "and report it if it repeats",
        )


def run_claimed_job(job: Job, ctx: JobContext) -> str:
    """Load inputs, optimise with progress hooks, store the result and end the row."""
    params = JobParams.model_validate(job.params)
    content = load_image(ctx.storage, job.content_key, "content")
    styles = [
        load_image(ctx.storage, key, f"style[{n}]") for n, key in enumerate(job.style_keys, start=1)
    ]
    reporter = ProgressReporter(
        job_id=job.id,
        channel=ctx.channel,
        sessions=ctx.sessions,
        db_interval_s=ctx.settings.progress_db_interval_s,
        deadline=time.monotonic() + soft_time_limit_s(params),
    )
    previews = PreviewWriter(job.id, ctx.storage, ctx.channel, ctx.sessions)
    engine = warm_engine()
    try:
        result = engine.run(content, styles, params, on_progress=reporter, on_preview=previews)
    except EngineInputError as exc:
        raise JobFailure("bad_input", str(exc)) from None
    metrics = result_metrics(result)
    if reporter.stop_reason == "canceled":
        return end_job(
            ctx, job.id, JobStatus.CANCELED, metrics=metrics, weights_source=result.weights_source
        )
    if reporter.stop_reason == "time_limit":
        raise JobFailure(
            "time_limit",
            f"the job ran past its time limit after "
            f"{result.iterations} iterations; lower iterations or max_size",
        )
    result_key = f"jobs/{job.id}/result.{RESULT_EXTENSIONS[params.output_format]}"
    ctx.storage.put(result_key, encode_image(result.image, params.output_format))
    return end_job(
        ctx,
        job.id,
        JobStatus.SUCCEEDED,
        result_key=result_key,
        metrics=metrics,
        weights_source=result.weights_source,
        iteration=result.iterations,
        losses=result.losses,
        ms_per_iter=result.ms_per_iter,
    )


def load_image(storage: Storage, key: str, field: str) -> np.ndarray:
    """Read and decode one stored input; JobFailure when it is gone or unusable."""
    try:
        return decode_image(storage.get(key))
    except StorageError:
        raise JobFailure(
            "input_missing", f"the {field} image is no longer in storage; submit the job again"
        ) from None
    except ImageError as exc:
        raise JobFailure("bad_input", f"{field}: {exc}") from None


def result_metrics(result: EngineResult) -> dict[str, object]:
    """What a finished (or stopped) run measured, for the job row."""
    return {
        "iterations": result.iterations,
        "total_iterations": result.total_iterations,
        "seconds": round(result.seconds, 3),
        "ms_per_iter": round(result.ms_per_iter, 3),
        "losses": result.losses,
        "initial_losses": result.initial_losses,
        "weights_source": result.weights_source,
        "worker": worker_name(),
        "height": int(result.image.shape[0]),
        "width": int(result.image.shape[1]),
    }


def end_job(ctx: JobContext, job_id: uuid.UUID, status: JobStatus, **fields: object) -> str:
    """Compare-and-set running -> ``status`` and announce it; the first ending wins."""
    with ctx.sessions() as session:
        if not job_store.finish_job(session, job_id, status, **fields):
            log.warning("job %s was no longer running; kept its state", job_id)
            return "skipped"
    event: dict[str, object] = {}
    if status is JobStatus.FAILED:
        event["error"] = {"code": fields.get("error_code"), "message": fields.get("error_message")}
    publish_status(ctx, job_id, status, **event)
    return status.value


def publish_status(ctx: JobContext, job_id: uuid.UUID, status: JobStatus, **extra: object) -> None:
    """Announce a status change on the job's channel; Redis being down must not fail the job."""
    try:
        ctx.channel.publish(str(job_id), {"type": "status", "status": status.value, **extra})
    except Exception:  # the DB row is the truth; the live view is best effort
        log.warning("could not publish status %s for job %s", status.value, job_id, exc_info=True)
