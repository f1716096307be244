"""The job task: claim the row, run the engine with its checks, store the result, end the row."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from celery import shared_task
from sqlalchemy.orm import Session

from shared.db import job_store
from shared.db.job import FailureCode, Job, JobStatus
from shared.images import OUTPUT_FORMATS, ImageError, decode_image, encode_image
from shared.job_end import end_job, failure, run_is
from shared.job_events import round_ms, status_event
from shared.job_limits import hard_time_limit_s, soft_time_limit_s
from shared.job_moves import claim_job
from shared.logs import bind, unbind
from shared.params import JobParams
from shared.storage import Storage, StorageError
from shared.storage.keys import result_key
from shared.task_names import RUN_JOB_TASK
from worker.db_writes import write_with_retry
from worker.engine import EngineInputError, EngineResult, JobTooLarge, Stop
from worker.job_context import JobContext, process_context
from worker.preview_writer import PreviewWriter
from worker.run_checks.base import RunState, run_checks
from worker.run_checks.cancel import Cancel
from worker.run_checks.hard_time_limit import HardTimeLimit
from worker.run_checks.heartbeat import Heartbeat
from worker.run_checks.lost_claim import LostClaim
from worker.run_checks.progress_report import ReportProgress
from worker.run_checks.progress_webhooks import ProgressWebhooks
from worker.run_checks.shutdown import Shutdown, shutdown_requested_at
from worker.run_checks.time_limit import TimeLimit
from worker.run_outcome import RunOutcome

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
    return execute_job(uuid.UUID(job_id), attempt, process_context()).value


def retried_write(ctx: JobContext, action: Callable[[Session], T]) -> T:
    """A database write of this worker, retried through an outage."""
    return write_with_retry(ctx.sessions, ctx.settings.db_retry_s, action)


def execute_job(job_id: uuid.UUID, attempt: int, ctx: JobContext) -> RunOutcome:
    """Claim and run the job; a message that claims nothing is SKIPPED."""
    if shutdown_requested_at() is not None:  # stopping: leave it to the next worker
        retried_write(ctx, lambda session: job_store.mark_unsent(session, job_id))
        return RunOutcome.REQUEUED
    weights = ctx.engine.weights_source
    job = retried_write(ctx, lambda s: claim_job(s, job_id, ctx.worker, attempt, weights))
    if job is None:
        log.info("job %s attempt %d not due (missing, claimed or ended): skipped", job_id, attempt)
        return RunOutcome.SKIPPED
    token = bind(attempt=attempt)  # on every log line of this run
    try:
        publish(ctx, job_id, status_event(JobStatus.RUNNING))
        return run_claimed_job(job, attempt, ctx)
    finally:
        unbind(token)


def run_claimed_job(job: Job, attempt: int, ctx: JobContext) -> RunOutcome:
    """Run the claimed job under its heartbeat and hard time limit; any failure ends the row
    ``failed``."""
    state = RunState(job.id, attempt)
    params = JobParams.model_validate(job.params)

    def end_at_hard_limit() -> None:
        message = "the job ran past its hard time limit; lower iterations or max_size"
        end(ctx, job.id, attempt, JobStatus.FAILED, **failure(FailureCode.TIME_LIMIT, message))
        state.lost.set()  # the row is ended: the run must write nothing more

    heartbeat = Heartbeat.for_timeout(
        ctx.sessions, job.id, attempt, ctx.settings.heartbeat_timeout_s, state.lost
    )
    hard_limit = HardTimeLimit(hard_time_limit_s(params), end_at_hard_limit)
    with heartbeat, hard_limit:
        try:
            return run_engine(job, params, state, ctx)
        except JobFailure as exc:
            return end(ctx, job.id, attempt, JobStatus.FAILED, **failure(exc.code, exc.message))
        except Exception:
            log.exception("job %s failed unexpectedly", job.id)
            message = (
                "the worker hit an unexpected error; submit the job again, and report it if "
                "it repeats"
            )
            return end(
                ctx,
                job.id,
                attempt,
                JobStatus.FAILED,
                **failure(FailureCode.INTERNAL_ERROR, message),
            )


def run_engine(job: Job, params: JobParams, state: RunState, ctx: JobContext) -> RunOutcome:
    """Load inputs, optimise with the run checks, store the result and end the row."""
    attempt = state.attempt
    max_pixels = ctx.settings.max_image_pixels
    content = load_image(ctx.storage, job.content_key, "content", max_pixels)
    styles = [
        load_image(ctx.storage, key, f"style[{n}]", max_pixels)
        for n, key in enumerate(job.style_keys, start=1)
    ]
    previews = PreviewWriter(job.id, attempt, ctx.storage, ctx.channel, ctx.sessions)
    checks = [
        ReportProgress(  # live and stored progress; learns of cancels from Redis and the row
            ctx.channel,
            ctx.sessions,
            ctx.settings.progress_db_interval_s,
            clock=ctx.clock,
            preview_every=params.preview_every,
            preview_s=lambda: previews.seconds,
        ),
        ProgressWebhooks(ctx.sessions),  # a progress delivery per 10 %, if asked for
        LostClaim(),  # the row is no longer this run's: stop, write nothing
        Cancel(),  # a cancel was asked for
        TimeLimit(ctx.clock() + soft_time_limit_s(params), ctx.clock),  # the soft limit
        Shutdown(ctx.settings.worker_shutdown_s),  # the worker stops; the job would not end
    ]
    try:
        result = ctx.engine.run(
            content, styles, params, on_progress=run_checks(checks, state), on_preview=previews
        )
    except JobTooLarge as exc:
        raise JobFailure(FailureCode.TOO_LARGE, str(exc)) from None
    except EngineInputError as exc:
        raise JobFailure(FailureCode.BAD_INPUT, str(exc)) from None
    if state.lost.is_set() or result.stopped is Stop.LOST:
        log.warning("job %s attempt %d was taken over; dropped its run", job.id, attempt)
        return RunOutcome.LOST
    if result.stopped is Stop.SHUTDOWN:
        return requeue(ctx, job.id, attempt)
    metrics = result_metrics(result, ctx.worker)
    if result.stopped is Stop.CANCELED:
        return end(ctx, job.id, attempt, JobStatus.CANCELED, metrics=metrics)
    if result.stopped is Stop.TIME_LIMIT:
        raise JobFailure(
            FailureCode.TIME_LIMIT,
            f"the job ran past its time limit after {result.iterations} iterations; lower "
            "iterations or max_size",
        )
    if not result.quality.style_arrived:
        log.warning(
            "job %s: the style loss fell by only %.0f%% (style_ratio %.3f); the picture may "
            "look like the photo: a higher style_weight or another optimizer may help",
            job.id,
            100 * result.quality.style_drop,
            result.quality.style_ratio,
        )
    output = OUTPUT_FORMATS[params.output_format]
    key = result_key(job.id, output.extension, attempt)
    data = encode_image(result.image, output.name)
    ctx.storage.put(key, data)  # stored before the row says so
    outcome = end(
        ctx,
        job.id,
        attempt,
        JobStatus.SUCCEEDED,
        result_key=key,
        result_bytes=len(data),
        metrics=metrics,
        iteration=result.iterations,
        losses=result.losses,
        ms_per_iter=round_ms(result.ms_per_iter),
    )
    if outcome is not RunOutcome.SUCCEEDED:  # another run owns the row: one result object only
        ctx.storage.delete(key)
    return outcome


def requeue(ctx: JobContext, job_id: uuid.UUID, attempt: int) -> RunOutcome:
    """The worker is stopping: put the job back in the queue for another worker."""
    if not retried_write(ctx, lambda session: job_store.requeue_run(session, job_id, attempt)):
        return RunOutcome.LOST
    log.warning("job %s attempt %d requeued: the worker is shutting down", job_id, attempt)
    publish(ctx, job_id, status_event(JobStatus.QUEUED))
    return RunOutcome.REQUEUED


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


def end(
    ctx: JobContext, job_id: uuid.UUID, attempt: int, status: JobStatus, **fields: Any
) -> RunOutcome:
    """End this run's job ``status`` through the one end of every job (shared/job_end.py)."""
    only_if = run_is(attempt)
    ended = retried_write(
        ctx, lambda s: end_job(s, job_id, status, only_if=only_if, channel=ctx.channel, **fields)
    )
    if ended is None and not already_ended(ctx, job_id, attempt, status, fields):
        log.warning("job %s attempt %d was no longer running; kept its state", job_id, attempt)
        return RunOutcome.LOST
    return RunOutcome.ended(status)


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
