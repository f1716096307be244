"""``stylize bench queue``: what the service adds to a job (API + DB + broker + worker
bookkeeping), and what per-iteration progress reporting costs the optimisation loop.

Real parts: one gunicorn API process, a scratch PostgreSQL database (or SQLite), the
configured Redis with a private queue and one real ``stylize worker`` process, idle when each
job is sent. Jobs are tiny (32 px, 2 iterations) and sent one at a time over HTTP; the bench
waits for each job's end event on Redis (no polling load), then reads the row's timestamps.

Per job, on one clock (this machine's):

- ``submit_to_running``: the client starts the POST -> the worker's claim (``started_at``);
- ``submit_http``: the POST's round trip (validate, store inputs, insert the row, send);
- ``worker_extra``: claim -> end (``finished_at``) minus the engine's own seconds: loading
  the inputs, storing the result, the end's database write and event;
- ``overhead``: the one number, ``submit_to_running + worker_extra``: everything between
  the client's request and the finished row that is not the optimisation itself.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import redis
import requests
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from bench.stack import bench_stack
from bench.stats import percentile, summary
from shared.api_keys import create_key
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.job_moves import claim_job
from shared.params import JobParams
from shared.progress_channel import ProgressChannel
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from worker.run_checks.base import RunState
    from worker.run_checks.progress_report import ReportProgress

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY_PARAMS = {"iterations": 2, "max_size": 32, "preview_every": 0}
WARMUP_JOBS = 2  # the engine traces its step for the first image shape: not queue overhead
JOB_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class JobTiming:
    """One job's figures in milliseconds (see the module docstring)."""

    submit_http: float
    submit_to_running: float
    worker_extra: float

    @property
    def overhead(self) -> float:
        return self.submit_to_running + self.worker_extra


def job_timing(sent: datetime, answered: datetime, job: Job) -> JobTiming:
    """The figures of one finished job: client times and the row's timestamps."""
    if job.started_at is None or job.finished_at is None or not job.metrics:
        raise RuntimeError(f"job {job.id} ended {job.status} without running")
    started, finished = as_utc(job.started_at), as_utc(job.finished_at)
    engine_ms = float(job.metrics["seconds"]) * 1000
    return JobTiming(
        submit_http=(answered - sent).total_seconds() * 1000,
        submit_to_running=(started - sent).total_seconds() * 1000,
        worker_extra=(finished - started).total_seconds() * 1000 - engine_ms,
    )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def queue_report(timings: list[JobTiming]) -> dict[str, object]:
    """p50/p99/max of each figure, and the overhead's p50 as the one number."""
    report: dict[str, object] = {"jobs": len(timings)}
    for name in ("submit_to_running", "submit_http", "worker_extra", "overhead"):
        report[name + "_ms"] = summary([getattr(t, name) for t in timings])
    report["overhead_p50_ms"] = round(percentile([t.overhead for t in timings], 50), 2)
    return report


def tiny_png(seed: int, size: int = 32) -> bytes:
    """A random-texture PNG for queue jobs (the queue cost does not depend on content)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class EndEvents:
    """Every job's end as the worker announces it on Redis (``stylize:events:*``)."""

    def __init__(self, broker_url: str) -> None:
        self._pubsub = redis.Redis.from_url(broker_url).pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe("stylize:events:*")
        self._ended: set[str] = set()

    def wait(self, job_id: str, sessions: sessionmaker[Session]) -> Job:
        """Block until ``job_id`` has ended; its row."""
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while job_id not in self._ended:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not end within {JOB_TIMEOUT_S:.0f} s")
            message = self._pubsub.get_message(timeout=1.0)
            if message is None:  # a lost event must not hang the bench: ask the row
                if self._row_ended(job_id, sessions):
                    break
                continue
            event = json.loads(message["data"])
            if event.get("type") == "status" and JobStatus(event["status"]).terminal:
                self._ended.add(message["channel"].decode().rsplit(":", 1)[-1])
        with sessions() as session:
            job = job_store.get_job(session, uuid.UUID(job_id))
        assert job is not None
        return job

    @staticmethod
    def _row_ended(job_id: str, sessions: sessionmaker[Session]) -> bool:
        with sessions() as session:
            job = job_store.get_job(session, uuid.UUID(job_id))
        return job is not None and JobStatus(job.status).terminal

    def close(self) -> None:
        self._pubsub.close()


def measure_queue(
    api_url: str, headers: dict[str, str], settings: Settings, jobs: int
) -> list[JobTiming]:
    """Send ``jobs`` tiny jobs (after the warm-up ones) one at a time, each to an idle worker."""
    sessions = session_factory(settings.database_url)
    events = EndEvents(settings.broker_url)
    timings: list[JobTiming] = []
    try:
        with requests.Session() as http:
            for n in range(WARMUP_JOBS + jobs):
                files = [
                    ("content", ("c.png", tiny_png(n), "image/png")),
                    ("style", ("s.png", tiny_png(n + 100_000), "image/png")),
                ]
                data = {"params": json.dumps(TINY_PARAMS)}
                sent = datetime.now(UTC)
                response = http.post(
                    f"{api_url}/v1/jobs", headers=headers, files=files, data=data, timeout=30
                )
                answered = datetime.now(UTC)
                if response.status_code != 202:
                    raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
                job = events.wait(response.json()["id"], sessions)
                if n >= WARMUP_JOBS:
                    timings.append(job_timing(sent, answered, job))
    finally:
        events.close()
    return timings


@dataclass(frozen=True)
class ProgressReport:
    """What per-iteration progress reporting costs the optimisation loop."""

    size: int
    iterations: int
    ms_per_iter_without: float
    ms_per_iter_with: float
    loop_overhead_pct: float
    reporter_call_us: float
    reporter_pct_of_iteration: float


def measure_progress(settings: Settings, size: int, iterations: int, rounds: int) -> ProgressReport:
    """The engine at ``size`` px with and without the real reporter, alternated per round."""
    from shared.images import read_image
    from worker.engine import StyleEngine
    from worker.run_checks.base import RunState, run_checks
    from worker.run_checks.progress_report import ReportProgress

    engine = StyleEngine.load()
    content = read_image(str(EXAMPLES / "content-chelsea.jpg"))
    style = read_image(str(EXAMPLES / "style-hubble.jpg"))
    params = JobParams(max_size=size, iterations=iterations, preview_every=0)
    sessions = session_factory(settings.database_url)
    job_id = running_job(sessions, params)
    reporter = ReportProgress(
        ProgressChannel.from_url(settings.broker_url), sessions, settings.progress_db_interval_s
    )
    state = RunState(job_id, 1)
    hook = run_checks([reporter], state)
    engine.run(content, [style], params.model_copy(update={"iterations": 2}))  # trace once
    without, with_reporter = [], []
    for _ in range(rounds):
        without.append(engine.run(content, [style], params).ms_per_iter)
        with_reporter.append(engine.run(content, [style], params, on_progress=hook).ms_per_iter)
    call_us = time_reporter_call(reporter, state, iterations)
    plain = statistics.median(without)
    reported = statistics.median(with_reporter)
    return ProgressReport(
        size=size,
        iterations=iterations,
        ms_per_iter_without=plain,
        ms_per_iter_with=reported,
        loop_overhead_pct=100 * (reported - plain) / plain,
        reporter_call_us=call_us,
        reporter_pct_of_iteration=100 * call_us / 1000 / plain,
    )


def running_job(sessions: sessionmaker[Session], params: JobParams) -> uuid.UUID:
    """A real job row in ``running`` state for the reporter to update (its inputs are unused)."""
    with sessions() as session:
        key, _ = create_key(session, "bench-progress")
        job = job_store.create_job(
            session,
            job_id=uuid.uuid4(),
            owner_id=key.id,
            params=params,
            content_key="bench/content.png",
            style_keys=["bench/style.png"],
            max_attempts=get_settings().job_max_attempts,
        )
        claim_job(session, job.id, "bench", 1)
        return job.id


def time_reporter_call(reporter: ReportProgress, state: RunState, calls: int) -> float:
    """Mean microseconds of one reporter call (Redis round trip + the DB write it may do)."""
    from worker.engine import Progress

    losses = {"content": 1.0, "style": 2.0, "tv": 0.1, "total": 3.1}
    started = time.perf_counter()
    for n in range(1, calls + 1):
        reporter(Progress(iteration=n, total=calls, losses=losses, ms_per_iter=400.0), state)
    return (time.perf_counter() - started) / calls * 1e6


def run_queue_bench(
    jobs: int,
    postgres_url: str | None,
    progress: tuple[int, int, int] | None = (256, 10, 3),
) -> dict[str, object]:
    """The queue figures, then (``progress``: size, iterations, rounds) the reporting cost;
    a JSON-ready dict."""
    with tempfile.TemporaryDirectory(prefix="stylize-bench-queue-") as tmp:
        workdir = Path(tmp)
        with bench_stack(workdir, postgres_url) as stack:
            api_url = stack.start_api()
            stack.start_worker("bench-queue")
            timings = measure_queue(api_url, stack.headers, stack.settings, jobs)
            stack.stop_workers_and_apis()  # the progress cost is measured in this process
            numbers: dict[str, object] = {
                "database": "sqlite" if postgres_url is None else "postgresql",
                "queue": queue_report(timings),
            }
            if progress is not None:
                report = measure_progress(stack.settings, *progress)
                numbers["progress"] = report.__dict__
    return numbers
