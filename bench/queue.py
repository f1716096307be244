"""``stylize bench queue``: queue overhead (submit -> running) and progress-reporting cost.

Both are measured side by side in one run against real parts: a real ``stylize worker``
process, the configured Redis, a temporary SQLite database and local storage.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from bench.worker_process import start_worker_process
from migrations import upgrade
from shared.api_keys import create_key
from shared.db import job_store
from shared.db.job import JobStatus
from shared.db.session import session_factory
from shared.params import JobParams
from shared.progress_channel import ProgressChannel
from shared.settings import Settings, get_settings
from worker.engine import Progress
from worker.progress_reporter import ProgressReporter

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class QueueReport:
    """Submit-to-running latency over several jobs sent to an idle worker."""

    jobs: int
    median_ms: float
    p90_ms: float
    max_ms: float
    submit_http_ms: float


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


def tiny_png(seed: int, size: int = 32) -> bytes:
    """A random-texture PNG for queue jobs (the queue cost does not depend on content)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def isolated_settings(workdir: Path) -> Settings:
    """Settings for a private stack: temp SQLite and storage, a private queue, real Redis."""
    base = get_settings()
    return base.model_copy(
        update={
            "database_url": f"sqlite:///{workdir / 'bench.db'}",
            "storage_url": f"file://{workdir / 'storage'}",
            "gpu_queue": f"bench-{uuid.uuid4().hex[:8]}",
        }
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker process on ``settings``."""
    return {
        **os.environ,
        "STYLIZE_DATABASE_URL": settings.database_url,
        "STYLIZE_STORAGE_URL": settings.storage_url,
        "STYLIZE_BROKER_URL": settings.broker_url,
        "STYLIZE_GPU_QUEUE": settings.gpu_queue,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def measure_queue(settings: Settings, jobs: int, workdir: Path) -> QueueReport:
    """Submit ``jobs`` tiny jobs over HTTP one after another, each to an idle worker."""
    from api import create_app

    upgrade(settings.database_url)
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        _, secret = create_key(session, "bench")
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    worker = start_worker_process(worker_env(settings), workdir / "worker.log")
    latencies, submits = [], []
    try:
        for n in range(jobs):
            started = time.perf_counter()
            response = client.post(
                "/v1/jobs",
                headers=headers,
                data={
                    "content": (io.BytesIO(tiny_png(n)), "c.png"),
                    "style": (io.BytesIO(tiny_png(n + 1000)), "s.png"),
                    "params": '{"iterations": 2, "max_size": 32, "preview_every": 0}',
                },
            )
            submits.append((time.perf_counter() - started) * 1000)
            job_id = uuid.UUID(response.get_json()["id"])
            latencies.append(wait_until_finished(sessions, job_id))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    ordered = sorted(latencies)
    return QueueReport(
        jobs=jobs,
        median_ms=statistics.median(ordered),
        p90_ms=ordered[int(0.9 * (len(ordered) - 1))],
        max_ms=ordered[-1],
        submit_http_ms=statistics.median(submits),
    )


def wait_until_finished(sessions: sessionmaker[Session], job_id: uuid.UUID) -> float:
    """Wait for the job to end; return created -> started (the queue overhead) in ms."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            job = job_store.get_job(session, job_id)
            if job is not None and JobStatus(job.status).terminal:
                if job.started_at is None:
                    raise RuntimeError(f"job {job_id} ended {job.status} without running")
                return (job.started_at - job.created_at).total_seconds() * 1000
        time.sleep(0.01)
    raise RuntimeError(f"job {job_id} did not finish in 120 s")


def measure_progress(settings: Settings, size: int, iterations: int, rounds: int) -> ProgressReport:
    """The engine at ``size`` px with and without the real reporter, alternated per round."""
    from shared.images import read_image
    from worker.engine import StyleEngine

    engine = StyleEngine.load()
    content = read_image(str(EXAMPLES / "content-chelsea.jpg"))
    style = read_image(str(EXAMPLES / "style-hubble.jpg"))
    params = JobParams(max_size=size, iterations=iterations, preview_every=0)
    upgrade(settings.database_url)
    sessions = session_factory(settings.database_url)
    job_id = running_job(sessions, params)
    reporter = ProgressReporter(
        job_id=job_id,
        attempt=1,
        channel=ProgressChannel.from_url(settings.broker_url),
        sessions=sessions,
        db_interval_s=settings.progress_db_interval_s,
        deadline=float("inf"),
    )
    engine.run(content, [style], params.model_copy(update={"iterations": 2}))  # trace once
    without, with_reporter = [], []
    for _ in range(rounds):
        without.append(engine.run(content, [style], params).ms_per_iter)
        with_reporter.append(engine.run(content, [style], params, on_progress=reporter).ms_per_iter)
    call_us = time_reporter_call(reporter, iterations)
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
        job_store.claim_job(session, job.id, "bench", 1)
        return job.id


def time_reporter_call(reporter: ProgressReporter, calls: int) -> float:
    """Mean microseconds of one reporter call (Redis round trip + the DB write it may do)."""
    losses = {"content": 1.0, "style": 2.0, "tv": 0.1, "total": 3.1}
    started = time.perf_counter()
    for n in range(1, calls + 1):
        reporter(Progress(iteration=n, total=calls, losses=losses, ms_per_iter=400.0))
    return (time.perf_counter() - started) / calls * 1e6


def run_queue_bench(jobs: int, size: int, iterations: int, rounds: int) -> dict[str, object]:
    """Both measurements in one run; returns a JSON-ready dict."""
    with tempfile.TemporaryDirectory(prefix="stylize-bench-") as tmp:
        workdir = Path(tmp)
        settings = isolated_settings(workdir)
        queue = measure_queue(settings, jobs, workdir)
        progress = measure_progress(settings, size, iterations, rounds)
    return {"queue": queue.__dict__, "progress": progress.__dict__}
