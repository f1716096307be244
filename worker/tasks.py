"""The job task: claim the row, run the engine with hooks, store the result, end the row."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
from celery import shared_task

from shared.db import job_store
from shared.db.job import FailureCode, Job, JobStatus
from shared.images import OUTPUT_FORMATS, ImageError, decode_image, encode_image
from shared.job_events import round_ms, status_event
from shared.job_limits import soft_time_limit_s
from shared.logs import bind
from shared.params import JobParams
from shared.storage import Storage, StorageError
from shared.storage.keys import result_key
from shared.task_names import RUN_JOB_TASK
from worker import metrics as job_metrics
from worker.engine import EngineInputError, EngineResult, Stop
from worker.job_context import JobContext, process_context
from worker.progress_reporter import PreviewWriter, ProgressReporter
from worker.webhook_events import queue_webhook, with_progress_webhooks

log = logging.getLogger(__name__)


class JobFailure(Exception):
    """Ends the job ``failed`` with a code and a message the user can act on."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@shared_task(name=RUN_JOB_TASK, ignore_result=True)
def run_job(job_id: str) -> str:
    """Celery entry point: run job ``job_id`` once, however often it is delivered."""
    return execute_job(uuid.UUID(job_id), process_context())


def execute_job(job_id: uuid.UUID, ctx: JobContext) -> str:
    """Run the job and return its final status; duplicate deliveries return 'skipped'."""
    with ctx.sessions() as session:
        if not job_store.claim_job(session, job_id, ctx.worker, ctx.engine.weights_source):
            log.info("job %s not queued (missing, running or finished): skipped", job_id)
            return "skipped"
        job = job_store.get_job(session, job_id)
        assert job is not None
    bind(attempt=job.attempts)  # on every log line until the job's task ends
    publish(ctx, job_id, status_event(JobStatus.RUNNING))
    queue_webhook(ctx.webhook_sender, job, "running")
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
            error_code=FailureCode.INTERNAL_ERROR,
            error_message="the worker hit an unexpected error; submit the job again, "
            "and report it if it repeats",
        )


def run_claimed_job(job: Job, ctx: JobContext) -> str:
    """Load inputs, optimise with progress hooks, store the result and end the row."""
    params = JobParams.model_validate(job.params)
    max_pixels = ctx.settings.max_image_pixels
    content = load_image(ctx.storage, job.content_key, "content", max_pixels)
    styles = [
        load_image(ctx.storage, key, f"style[{n}]", max_pixels)
        for n, key in enumerate(job.style_keys, start=1)
    ]
    previews = PreviewWriter(job.id, ctx.storage, ctx.channel, ctx.sessions)
    reporter = ProgressReporter(
        job_id=job.id,
        channel=ctx.channel,
        sessions=ctx.sessions,
        db_interval_s=ctx.settings.progress_db_interval_s,
        deadline=ctx.clock() + soft_time_limit_s(params),
        clock=ctx.clock,
        preview_every=params.preview_every,
        preview_s=lambda: previews.seconds,
    )
    on_progress = with_progress_webhooks(reporter, job, ctx.webhook_sender)
    try:
        result = ctx.engine.run(
            content, styles, params, on_progress=on_progress, on_preview=previews
        )
    except EngineInputError as exc:
        raise JobFailure(FailureCode.BAD_INPUT, str(exc)) from None
    metrics = result_metrics(result, ctx.worker)
    if result.stopped is Stop.CANCELED:
        return end_job(
            ctx, job.id, JobStatus.CANCELED, metrics=metrics, weights_source=result.weights_source
        )
    if result.stopped is Stop.TIME_LIMIT:
        raise JobFailure(
            FailureCode.TIME_LIMIT,
            f"the job ran past its time limit after "
            f"{result.iterations} iterations; lower iterations or max_size",
        )
    if not result.quality.style_arrived:
        log.warning(
            "job %s: the style loss fell by only %.0f%% (style_ratio %.3f); the picture may "
            "look like the photo: a higher style_weight or another optimizer may help",
            job.id, 100 * result.quality.style_drop, result.quality.style_ratio,
        )  # fmt: skip
    output = OUTPUT_FORMATS[params.output_format]
    key = result_key(job.id, output.extension)
    ctx.storage.put(key, encode_image(result.image, output.name))
    return end_job(
        ctx,
        job.id,
        JobStatus.SUCCEEDED,
        result_key=key,
        metrics=metrics,
        weights_source=result.weights_source,
        iteration=result.iterations,
        losses=result.losses,
        ms_per_iter=round_ms(result.ms_per_iter),
    )


def load_image(storage: Storage, key: str, field: str, max_pixels: int) -> np.ndarray:
    """Read and decode one stored input; JobFailure when it is gone or unusable."""
    try:
        return decode_image(storage.get(key), max_pixels=max_pixels)
    except StorageError:
        raise JobFailure(
            FailureCode.INPUT_MISSING,
            f"the {field} image is no longer in storage; submit the job again",
        ) from None
    except ImageError as exc:
        raise JobFailure(FailureCode.BAD_INPUT, f"{field}: {exc}") from None


def result_metrics(result: EngineResult, worker: str) -> dict[str, object]:
    """What a finished (or stopped) run measured, for the job row."""
    return {
        "iterations": result.iterations,
        "total_iterations": result.total_iterations,
        "seconds": round(result.seconds, 3),
        "ms_per_iter": round_ms(result.ms_per_iter),
        "warmup_s": round(result.warmup_s, 3),
        "precision": result.precision,
        "losses": result.losses,
        "initial_losses": result.initial_losses,
        "weights_source": result.weights_source,
        "worker": worker,
        "height": int(result.image.shape[0]),
        "width": int(result.image.shape[1]),
        **result.quality.as_dict(),
    }


def end_job(ctx: JobContext, job_id: uuid.UUID, status: JobStatus, **fields: Any) -> str:
    """Compare-and-set running -> ``status`` and announce it; the first ending wins."""
    with ctx.sessions() as session:
        if not job_store.finish_job(session, job_id, status, **fields):
            log.warning("job %s was no longer running; kept its state", job_id)
            return "skipped"
        ended = job_store.get_job(session, job_id)
        job_metrics.record_job_end(ended)
    error_code, error_message = fields.get("error_code"), fields.get("error_message")
    publish(ctx, job_id, status_event(status, error_code, error_message))
    if ended is not None:
        queue_webhook(ctx.webhook_sender, ended, "completed")
    return status.value


def publish(ctx: JobContext, job_id: uuid.UUID, event: dict[str, Any]) -> None:
    """Announce ``event`` on the job's channel; Redis being down must not fail the job."""
    try:
        ctx.channel.publish(str(job_id), event)
    except Exception:  # the DB row is the truth; the live view is best effort
        log.warning("could not publish a %s event for job %s", event["type"], job_id, exc_info=True)
