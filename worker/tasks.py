"""The job task: claim the row, run the engine with hooks, store the result, end the row."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from celery import shared_task
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.db import job_store
from shared.db.job import FailureCode, Job, JobStatus
from shared.images import OUTPUT_FORMATS, ImageError, decode_image, encode_image
from shared.job_events import round_ms, status_event
from shared.job_limits import soft_time_limit_s
from shared.logs import bind, unbind
from shared.params import JobParams
from shared.storage import Storage, StorageError
from shared.storage.keys import result_key
from shared.task_names import RUN_JOB_TASK
from worker import metrics as job_metrics
from worker.db_writes import write_with_retry
from worker.engine import EngineInputError, EngineResult, JobTooLarge, Stop
from worker.heartbeat import Heartbeat
from worker.job_context import JobContext, process_context
from worker.progress_reporter import PreviewWriter, ProgressReporter
from worker.run_guard import RunGuard
from worker.shutdown import ShutdownRule, shutdown_requested_at
from worker.webhook_events import queue_webhook, with_progress_webhooks

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobFailure(Exception):
    """Ends the job ``failed`` with a code and a message the user can act on."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@shared_task(name=RUN_JOB_TASK, ignore_result=True)
def run_job(job_id: str, attempt: int) -> str:
    """Celery entry point: run ``attempt`` of job ``job_id`` once, however often it is delivered."""
    return execute_job(uuid.UUID(job_id), attempt, process_context())


def db(ctx: JobContext, action: Callable[[Session], T]) -> T:
    """A database write of this worker, retried through an outage."""
    return write_with_retry(ctx.sessions, ctx.settings.db_retry_s, action)


def execute_job(job_id: uuid.UUID, attempt: int, ctx: JobContext) -> str:
    """Run the job and return how it ended; a message that claims nothing returns 'skipped'."""
    if shutdown_requested_at() is not None:  # stopping: leave it to the next worker
        db(ctx, lambda session: job_store.mark_unsent(session, job_id))
        return "handed back"
    weights = ctx.engine.weights_source
    if not db(ctx, lambda s: job_store.claim_job(s, job_id, ctx.worker, attempt, weights)):
        log.info("job %s attempt %d not due (missing, claimed or finished): skipped",
                 job_id, attempt)  # fmt: skip
        return "skipped"
    with ctx.sessions() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None
    token = bind(attempt=attempt)  # on every log line of this run
    try:
        publish(ctx, job_id, status_event(JobStatus.RUNNING))
        queue_webhook(ctx.webhook_sender, job, "running")
        return run_with_heartbeat(job, attempt, ctx)
    finally:
        unbind(token)


def run_with_heartbeat(job: Job, attempt: int, ctx: JobContext) -> str:
    """Run the claimed job with its heartbeat thread; any failure ends the row ``failed``."""
    job_id = job.id
    timeout_s = ctx.settings.heartbeat_timeout_s
    with Heartbeat.for_timeout(ctx.sessions, job_id, attempt, timeout_s) as heartbeat:
        try:
            return run_claimed_job(job, attempt, ctx, heartbeat)
        except JobFailure as failure:
            return end_job(ctx, job_id, attempt, JobStatus.FAILED,
                           error_code=failure.code, error_message=failure.message)  # fmt: skip
        except Exception:
            log.exception("job %s failed unexpectedly", job_id)
            return end_job(
                ctx,
                job_id,
                attempt,
                JobStatus.FAILED,
                error_code=FailureCode.INTERNAL_ERROR,
                error_message="the worker hit an unexpected error; submit the job again, "
                "and report it if it repeats",
            )


def run_claimed_job(job: Job, attempt: int, ctx: JobContext, heartbeat: Heartbeat) -> str:
    """Load inputs, optimise with progress hooks, store the result and end the row."""
    params = JobParams.model_validate(job.params)
    max_pixels = ctx.settings.max_image_pixels
    content = load_image(ctx.storage, job.content_key, "content", max_pixels)
    styles = [
        load_image(ctx.storage, key, f"style[{n}]", max_pixels)
        for n, key in enumerate(job.style_keys, start=1)
    ]
    previews = PreviewWriter(job.id, attempt, ctx.storage, ctx.channel, ctx.sessions)
    reporter = ProgressReporter(
        job_id=job.id,
        attempt=attempt,
        channel=ctx.channel,
        sessions=ctx.sessions,
        db_interval_s=ctx.settings.progress_db_interval_s,
        deadline=ctx.clock() + soft_time_limit_s(params),
        clock=ctx.clock,
        preview_every=params.preview_every,
        preview_s=lambda: previews.seconds,
    )
    report = with_progress_webhooks(reporter, job, ctx.webhook_sender)
    guard = RunGuard(report, heartbeat.lost, ShutdownRule(ctx.settings.worker_shutdown_s))
    try:
        result = ctx.engine.run(content, styles, params, on_progress=guard, on_preview=previews)
    except JobTooLarge as exc:
        raise JobFailure(FailureCode.TOO_LARGE, str(exc)) from None
    except EngineInputError as exc:
        raise JobFailure(FailureCode.BAD_INPUT, str(exc)) from None
    if heartbeat.lost.is_set() or result.stopped is Stop.LOST:
        log.warning("job %s attempt %d was taken over; dropped its run", job.id, attempt)
        return "lost"
    if result.stopped is Stop.SHUTDOWN:
        return hand_back(ctx, job.id, attempt)
    metrics = result_metrics(result, ctx.worker)
    if result.stopped is Stop.CANCELED:
        return end_job(ctx, job.id, attempt, JobStatus.CANCELED,
                       metrics=metrics, weights_source=result.weights_source)  # fmt: skip
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
    key = result_key(job.id, output.extension, attempt)
    ctx.storage.put(key, encode_image(result.image, output.name))  # stored before the row says so
    ended = end_job(
        ctx,
        job.id,
        attempt,
        JobStatus.SUCCEEDED,
        result_key=key,
        metrics=metrics,
        weights_source=result.weights_source,
        iteration=result.iterations,
        losses=result.losses,
        ms_per_iter=round_ms(result.ms_per_iter),
    )
    if ended != JobStatus.SUCCEEDED.value:  # another run owns the row: one result object only
        ctx.storage.delete(key)
    return ended


def hand_back(ctx: JobContext, job_id: uuid.UUID, attempt: int) -> str:
    """The worker is stopping: give the job back to the queue for another worker."""
    if not db(ctx, lambda session: job_store.hand_back(session, job_id, attempt)):
        return "lost"
    log.warning("job %s attempt %d handed back: the worker is shutting down", job_id, attempt)
    publish(ctx, job_id, status_event(JobStatus.QUEUED))
    return "handed back"


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


def end_job(
    ctx: JobContext, job_id: uuid.UUID, attempt: int, status: JobStatus, **fields: Any
) -> str:
    """Compare-and-set this run's row to ``status`` and announce it; the first ending wins."""
    won = db(ctx, lambda s: job_store.finish_job(s, job_id, attempt, status, **fields))
    if not won and not already_ended(ctx, job_id, attempt, status, fields):
        log.warning("job %s attempt %d was no longer running; kept its state", job_id, attempt)
        return "skipped"
    announce_end(ctx, job_id)
    error_code, error_message = fields.get("error_code"), fields.get("error_message")
    publish(ctx, job_id, status_event(status, error_code, error_message))
    return status.value


def announce_end(ctx: JobContext, job_id: uuid.UUID) -> None:
    """Count the ended job in the metrics and queue its ``completed`` webhook (best effort:
    the row already says how it ended)."""
    try:
        with ctx.sessions() as session:
            ended = job_store.get_job(session, job_id)
    except SQLAlchemyError as exc:
        log.warning("job %s ended; metrics and webhook skipped (%s)", job_id, exc)
        return
    if ended is not None:
        job_metrics.record_job_end(ended)
        queue_webhook(ctx.webhook_sender, ended, "completed")


def already_ended(
    ctx: JobContext, job_id: uuid.UUID, attempt: int, status: JobStatus, fields: dict[str, Any]
) -> bool:
    """Whether the row already shows this very ending (a retried write whose first try landed)."""
    with ctx.sessions() as session:
        job = job_store.get_job(session, job_id)
    return (
        job is not None
        and (job.status, job.attempts, job.worker) == (status.value, attempt, ctx.worker)
        and job.result_key == fields.get("result_key")
        and job.error_code == fields.get("error_code")
    )


def publish(ctx: JobContext, job_id: uuid.UUID, event: dict[str, Any]) -> None:
    """Announce ``event`` on the job's channel; Redis being down must not fail the job."""
    try:
        ctx.channel.publish(str(job_id), event)
    except Exception:  # the DB row is the truth; the live view is best effort
        log.warning("could not publish a %s event for job %s", event["type"], job_id, exc_info=True)
