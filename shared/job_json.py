"""The JSON shape of a job: the DB row (truth) merged with the live Redis progress.

The API answers with it and webhook deliveries carry it: one builder for both.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.db.job import Job, JobStatus
from shared.job_events import job_error, progress


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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


def job_json(job: Job, live: dict[str, Any] | None = None) -> dict[str, Any]:
    """The public representation of ``job``."""
    base = f"/v1/jobs/{job.id}"
    return {
        "id": str(job.id),
        "status": job.status,
        "params": job.params,
        "progress": job_progress(job, live),
        "timings": {
            "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "queue_s": _seconds(job.created_at, job.started_at),
            "run_s": _seconds(job.started_at, job.finished_at),
            "warmup_s": (job.metrics or {}).get("warmup_s"),
        },
        "metrics": job.metrics,
        "weights_source": job.weights_source,
        "worker": job.worker,
        "attempts": job.attempts,
        "error": job_error(job.error_code, job.error_message),
        "links": {
            "self": base,
            "events": f"{base}/events",
            "cancel": f"{base}/cancel",
            "preview": f"{base}/preview",
            "result": f"{base}/result",
        },
    }
