"""Metrics of ended jobs, counted by whichever process ends a job (``shared/job_end.py``).

The API (cancels, deletions), the workers and the reaper each count the jobs they end, so the
sum over every process that serves metrics is every end, counted once.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.db.job import Job

# Jobs take seconds on a GPU and minutes to hours on a CPU.
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, float("inf"))
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf"))
RATE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, float("inf"))

JOBS_FINISHED = Counter(
    "stylize_jobs_finished_total",
    "Jobs ended, by status and failure code (empty unless failed).",
    ["status", "failure_code"],
    registry=None,
)
JOB_DURATION = Histogram(
    "stylize_job_duration_seconds",
    "Time from claim to end of a job, by status.",
    ["status"],
    buckets=DURATION_BUCKETS,
    registry=None,
)
QUEUE_WAIT = Histogram(
    "stylize_job_queue_wait_seconds",
    "Time from submit to claim of a job.",
    buckets=WAIT_BUCKETS,
    registry=None,
)
ITERATIONS_PER_SECOND = Histogram(
    "stylize_job_iterations_per_second",
    "Optimisation speed of each job that ran iterations.",
    buckets=RATE_BUCKETS,
    registry=None,
)
JOB_END_METRICS = (JOBS_FINISHED, JOB_DURATION, QUEUE_WAIT, ITERATIONS_PER_SECOND)


def record_job_end(job: Job) -> None:
    """Count the ended ``job`` and observe its duration, queue wait and speed."""
    JOBS_FINISHED.labels(job.status, job.error_code or "").inc()
    if job.started_at is not None:
        QUEUE_WAIT.observe((job.started_at - job.created_at).total_seconds())
        if job.finished_at is not None:
            JOB_DURATION.labels(job.status).observe(
                (job.finished_at - job.started_at).total_seconds()
            )
    metrics = job.metrics or {}
    if metrics.get("iterations") and metrics.get("seconds"):
        ITERATIONS_PER_SECOND.observe(metrics["iterations"] / metrics["seconds"])
