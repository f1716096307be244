"""execute_job, one test per outcome: real SQLite, local storage, a recording channel, and the
engine with random weights (asked for by name: the pictures do not matter, the plumbing does)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shared.api_keys import create_key
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.db.webhook_delivery import WebhookDelivery
from shared.job_moves import claim_job
from shared.params import JobParams
from shared.settings import Settings
from shared.storage.keys import content_key, preview_key, result_key, style_key
from shared.storage.local import LocalStorage
from tests.support import RecordingChannel, noise_png, png_bytes, portrait_photo_bytes
from worker.engine import StyleEngine
from worker.job_context import JobContext
from worker.run_checks.shutdown import request_shutdown, reset_shutdown
from worker.tasks import execute_job


@pytest.fixture(scope="module")
def engine() -> StyleEngine:
    return StyleEngine.load("random")


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def ctx(
    sqlite_url: str, storage: LocalStorage, channel: RecordingChannel, engine: StyleEngine
) -> JobContext:
    """The worker's context as production builds it, but with the test's parts."""
    return JobContext(
        settings=Settings(database_url=sqlite_url, storage_url=f"file://{storage.root}"),
        sessions=session_factory(sqlite_url),
        storage=storage,
        channel=channel,  # type: ignore[arg-type]  # records instead of talking to Redis
        engine=engine,
        worker="test-worker",
    )


def queued_job(
    ctx: JobContext,
    content: bytes | None = None,
    styles: list[bytes] | None = None,
    **params: object,
) -> uuid.UUID:
    """Store the inputs and write a queued row, as the API does; return the job id."""
    job_id = uuid.uuid4()
    content_data = noise_png(36, 24, 1) if content is None else content
    style_data = [noise_png(24, 24, 2)] if styles is None else styles
    keys = [content_key(job_id, "png")] + [
        style_key(job_id, n, "png") for n in range(1, len(style_data) + 1)
    ]
    for key, data in zip(keys, [content_data, *style_data], strict=True):
        ctx.storage.put(key, data)
    with ctx.sessions() as session:
        owner, _ = create_key(session, "worker-tests")
        job_store.create_job(
            session,
            job_id=job_id,
            owner_id=owner.id,
            params=JobParams(**{"max_size": 36, "iterations": 3, "preview_every": 0, **params}),
            content_key=keys[0],
            style_keys=keys[1:],
            max_attempts=3,
        )
    return job_id


def row(ctx: JobContext, job_id: uuid.UUID) -> Job:
    with ctx.sessions() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None
        return job


def statuses(channel: RecordingChannel) -> list[str]:
    return [event["status"] for event in channel.of_type("status")]


def assert_failed(ctx: JobContext, channel: RecordingChannel, job_id: uuid.UUID, code: str) -> Job:
    """The row and the last status event both say failed with ``code``; nothing was stored."""
    job = row(ctx, job_id)
    assert (job.status, job.error_code) == ("failed", code)
    assert channel.of_type("status")[-1]["error"] == {"code": code, "message": job.error_message}
    assert job.result_key is None
    return job


def test_succeeded_stores_the_result_and_reports_every_step(
    ctx: JobContext, channel: RecordingChannel, tmp_path: Path
) -> None:
    job_id = queued_job(ctx, output_format="jpeg", preview_every=2)
    assert execute_job(job_id, 1, ctx) == "succeeded"
    job = row(ctx, job_id)
    assert job.status == "succeeded" and job.worker == "test-worker" and job.attempts == 1
    assert job.result_key == result_key(job_id, "jpg", 1)
    with Image.open(ctx.storage.root / job.result_key) as picture:
        assert (picture.format, picture.size) == ("JPEG", (36, 24))
    assert job.preview_key == preview_key(job_id, "png") and ctx.storage.exists(job.preview_key)
    assert job.iteration == job.metrics["iterations"] == 3
    assert job.metrics["worker"] == "test-worker" and job.weights_source == "random"
    assert statuses(channel) == ["running", "succeeded"]
    assert [event["iteration"] for event in channel.of_type("progress")] == [1, 2, 3]
    assert channel.of_type("progress")[-1]["percent"] == 100.0
    assert channel.of_type("preview") == [{"type": "preview", "iteration": 2}]


def test_a_duplicate_delivery_is_skipped(ctx: JobContext, channel: RecordingChannel) -> None:
    job_id = queued_job(ctx)
    assert execute_job(job_id, 1, ctx) == "succeeded"
    finished = row(ctx, job_id)
    published = len(channel.events)
    assert execute_job(job_id, 1, ctx) == "skipped"
    again = row(ctx, job_id)
    assert (again.status, again.attempts, again.finished_at) == (
        "succeeded",
        1,
        finished.finished_at,
    )
    assert len(channel.events) == published, "a skipped delivery announces nothing"


def test_a_missing_input_fails_input_missing(ctx: JobContext, channel: RecordingChannel) -> None:
    job_id = queued_job(ctx)
    ctx.storage.delete(content_key(job_id, "png"))
    assert execute_job(job_id, 1, ctx) == "failed"
    job = assert_failed(ctx, channel, job_id, "input_missing")
    assert "content image is no longer in storage" in job.error_message
    assert statuses(channel) == ["running", "failed"]


@pytest.mark.parametrize(
    ("inputs", "params", "message"),
    [
        ({"styles": [b"not an image"]}, {}, "style[1]: not an image"),
        ({"content": png_bytes(fmt="JPEG")[:-200]}, {}, "content: the image file is truncated"),
        ({}, {"style_blend": [1.0, 2.0]}, "style_blend has 2 weight(s) for 1 style image(s)"),
    ],
    ids=["undecodable style", "truncated content", "refused by the engine"],
)
def test_bad_input_fails_bad_input(
    ctx: JobContext, channel: RecordingChannel, inputs: dict, params: dict, message: str
) -> None:
    job_id = queued_job(ctx, **inputs, **params)
    assert execute_job(job_id, 1, ctx) == "failed"
    assert message in assert_failed(ctx, channel, job_id, "bad_input").error_message


def test_past_the_deadline_fails_time_limit(ctx: JobContext, channel: RecordingChannel) -> None:
    hours_pass = itertools.count(start=0, step=3600)  # each reading of the clock an hour later
    late = dataclasses.replace(ctx, clock=lambda: float(next(hours_pass)))
    job_id = queued_job(ctx, iterations=50)
    assert execute_job(job_id, 1, late) == "failed"
    job = assert_failed(ctx, channel, job_id, "time_limit")
    assert "after 1 iterations" in job.error_message
    assert [event["iteration"] for event in channel.of_type("progress")] == [1]


def test_a_cancel_stops_within_one_iteration(ctx: JobContext, channel: RecordingChannel) -> None:
    job_id = queued_job(ctx, iterations=50)
    channel.cancel = True  # what the API's cancel sets in Redis, read back by each publish
    assert execute_job(job_id, 1, ctx) == "canceled"
    job = row(ctx, job_id)
    assert job.status == "canceled" and job.metrics["iterations"] == 1
    assert job.result_key is None and job.error_code is None
    assert statuses(channel) == ["running", "canceled"]


@dataclass
class CancelInTheRowAt(RecordingChannel):
    """A cancel recorded in the row only (Redis lost its flag) while ``iteration`` runs."""

    sessions: Any = None
    iteration: int = 2

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        if event.get("iteration") == self.iteration:
            with self.sessions() as session:
                assert job_store.flag_cancel(session, uuid.UUID(job_id)) is JobStatus.RUNNING
        return super().publish(job_id, event)


def test_a_cancel_in_the_row_holds_without_the_redis_flag(ctx: JobContext) -> None:
    channel = CancelInTheRowAt(sessions=ctx.sessions)
    eager = dataclasses.replace(
        ctx,
        channel=channel,
        settings=ctx.settings.model_copy(update={"progress_db_interval_s": 0.01}),
    )
    job_id = queued_job(ctx, iterations=50)
    assert execute_job(job_id, 1, eager) == "canceled"
    assert row(ctx, job_id).metrics["iterations"] < 10


def test_an_unexpected_error_fails_internal_error(
    ctx: JobContext, channel: RecordingChannel, storage: LocalStorage
) -> None:
    class BrokenDisk(LocalStorage):
        def put(self, key: str, data: bytes) -> None:
            if "/result-" in key:
                raise RuntimeError("disk on fire")
            super().put(key, data)

    broken = dataclasses.replace(ctx, storage=BrokenDisk(storage.root))
    job_id = queued_job(ctx)
    assert execute_job(job_id, 1, broken) == "failed"
    job = assert_failed(ctx, channel, job_id, "internal_error")
    assert "disk on fire" not in job.error_message and "submit the job again" in job.error_message
    assert row(ctx, job_id).status == JobStatus.FAILED


def test_a_style_that_did_not_arrive_is_reported_and_logged(
    ctx: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Adam with a step of a thousandth of a grey level: the picture stays the photo.
    job_id = queued_job(ctx, optimizer="adam", learning_rate=0.001)
    with caplog.at_level("WARNING", logger="worker.tasks"):
        assert execute_job(job_id, 1, ctx) == "succeeded"
    metrics = row(ctx, job_id).metrics
    assert metrics["style_drop"] < 0.5 and metrics["style_ratio"] > 0.5
    assert 0 <= metrics["content_ratio"] < 0.05
    assert any(f"job {job_id}: the style loss fell by only" in m for m in caplog.messages)


def test_a_style_that_arrived_logs_no_warning(
    ctx: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the style term (the noise content would make smoothing win): its loss must fall.
    job_id = queued_job(ctx, iterations=10, content_weight=0, tv_weight=0)
    with caplog.at_level("WARNING", logger="worker.tasks"):
        assert execute_job(job_id, 1, ctx) == "succeeded"
    assert row(ctx, job_id).metrics["style_drop"] >= 0.5
    assert not [m for m in caplog.messages if "style loss fell by only" in m]


def deliveries(ctx: JobContext, job_id: uuid.UUID) -> list[WebhookDelivery]:
    """The job's outbox rows, oldest first."""
    with ctx.sessions() as session:
        rows = session.query(WebhookDelivery).filter_by(job_id=job_id)
        return sorted(rows, key=lambda delivery: delivery.created_at)


def test_webhook_deliveries_go_to_the_outbox_for_the_asked_events(ctx: JobContext) -> None:
    job_id = queued_job(
        ctx,
        iterations=20,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_events=["running", "progress", "completed"],
    )
    assert execute_job(job_id, 1, ctx) == "succeeded"
    queued = deliveries(ctx, job_id)
    assert [d.event for d in queued] == ["running"] + ["progress"] * 10 + ["completed"]
    bodies = [json.loads(d.body) for d in queued]
    assert [b["type"] for b in bodies[:2]] == ["job.running", "job.progress"]
    jobs = [b["data"] for b in bodies]
    assert jobs[0]["weights_source"] == "random", "known from the moment the job runs"
    assert [b["progress"]["iteration"] for b in jobs[1:-1]] == list(range(2, 21, 2))
    assert {b["status"] for b in jobs[:-1]} == {"running"}
    assert jobs[-1]["status"] == "succeeded" and jobs[-1]["id"] == str(job_id)
    assert {d.status for d in queued} == {"pending"}, "stylize webhooks sends them"


def test_only_the_asked_events_are_queued(ctx: JobContext) -> None:
    job_id = queued_job(ctx, webhook_url="http://127.0.0.1:9/hook")  # events: completed
    assert execute_job(job_id, 1, ctx) == "succeeded"
    assert [d.event for d in deliveries(ctx, job_id)] == ["completed"]
    unhooked = queued_job(ctx, webhook_events=["running", "completed"])  # no url: nothing
    assert execute_job(unhooked, 1, ctx) == "succeeded"
    assert deliveries(ctx, unhooked) == []


@dataclass
class ShutdownAtIteration(RecordingChannel):
    """A channel that asks the worker to stop (as SIGTERM does) when ``iteration`` is published."""

    iteration: int = 2

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        if event.get("iteration") == self.iteration:
            request_shutdown()
        return super().publish(job_id, event)


@pytest.fixture
def stopping(ctx: JobContext) -> Iterator[ShutdownAtIteration]:
    channel = ShutdownAtIteration()
    yield channel
    reset_shutdown()


def test_a_shutdown_hands_the_job_back_with_the_same_attempts(
    ctx: JobContext, stopping: ShutdownAtIteration
) -> None:
    quick = dataclasses.replace(
        ctx, channel=stopping, settings=ctx.settings.model_copy(update={"worker_shutdown_s": 0})
    )
    job_id = queued_job(ctx, iterations=50)
    assert execute_job(job_id, 1, quick) == "requeued"
    job = row(ctx, job_id)
    assert (job.status, job.attempts, job.worker, job.sent_at) == ("queued", 1, None, None)
    assert job.result_key is None and not ctx.storage.exists(result_key(job_id, "png", 1))
    assert statuses(stopping) == ["running", "queued"]
    assert [event["iteration"] for event in stopping.of_type("progress")] == [1, 2]
    reset_shutdown()  # the next worker runs it as attempt 2
    assert execute_job(job_id, 2, ctx) == "succeeded"
    assert row(ctx, job_id).attempts == 2


def test_a_shutdown_lets_a_job_that_ends_within_the_grace_finish(
    ctx: JobContext, stopping: ShutdownAtIteration
) -> None:
    patient = dataclasses.replace(ctx, channel=stopping)  # 30 s of grace for a 1 s job
    job_id = queued_job(ctx, iterations=5)
    assert execute_job(job_id, 1, patient) == "succeeded"
    assert statuses(stopping) == ["running", "succeeded"]


def test_a_stopping_worker_claims_nothing(ctx: JobContext) -> None:
    job_id = queued_job(ctx)
    request_shutdown()
    try:
        assert execute_job(job_id, 1, ctx) == "requeued"
    finally:
        reset_shutdown()
    job = row(ctx, job_id)
    assert (job.status, job.attempts, job.sent_at) == ("queued", 0, None), "the reaper sends it"


@dataclass
class TakenOverAtIteration(RecordingChannel):
    """While attempt 1 runs, the reaper requeues it and another worker claims attempt 2."""

    sessions: Any = None
    iteration: int = 2

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        if event.get("iteration") == self.iteration:
            with self.sessions() as session:
                assert job_store.requeue_run(session, uuid.UUID(job_id), 1)
                assert claim_job(session, uuid.UUID(job_id), "other-worker", 2)
        return super().publish(job_id, event)


def test_a_run_that_lost_its_row_leaves_no_result_and_no_change(ctx: JobContext) -> None:
    channel = TakenOverAtIteration(sessions=ctx.sessions)
    zombie = dataclasses.replace(
        ctx, channel=channel, settings=ctx.settings.model_copy(update={"heartbeat_timeout_s": 0.2})
    )
    job_id = queued_job(ctx, iterations=40)
    assert execute_job(job_id, 1, zombie) in ("lost", "skipped")
    job = row(ctx, job_id)
    assert (job.status, job.attempts, job.worker) == ("running", 2, "other-worker")
    assert job.result_key is None
    assert not list((ctx.storage.root / "jobs" / str(job_id)).glob("result*")), "no result object"
    assert statuses(channel) == ["running"], "it announced no ending"


def test_a_portrait_phone_photo_gives_an_upright_result(ctx: JobContext) -> None:
    job_id = queued_job(ctx, content=portrait_photo_bytes(24, 36), max_size=36)
    assert execute_job(job_id, 1, ctx) == "succeeded"
    with Image.open(ctx.storage.root / row(ctx, job_id).result_key) as picture:
        assert picture.size == (24, 36), "portrait, as the phone showed it"
