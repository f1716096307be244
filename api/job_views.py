"""The JSON shape of a job: the DB row (truth) merged with the live Redis progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.db.job import Job, JobStatus


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def progress_view(job: Job, live: dict[str, Any] | None) -> dict[str, Any]:
    """Progress from whichever source is further along, so it never goes backwards."""
    total = job.total_iterations
    iteration, losses, ms = job.iteration, job.losses, job.ms_per_iter
    if live and live.get("iteration", 0) > iteration:
        iteration, losses, ms = live["iteration"], live.get("losses"), live.get("ms_per_iter")
    remaining = max(total - iteration, 0)
    running = job.status == JobStatus.RUNNING.value
    return {
        "iteration": iteration,
        "total": total,
        "percent": round(100.0 * iteration / total, 2) if total else 0.0,
        "losses": losses,
        "ms_per_iter": ms,
        "eta_s": round(remaining * ms / 1000.0, 1) if running and ms else None,
    }


def job_view(job: Job, live: dict[str, Any] | None = None) -> dict[str, Any]:
    """The public representation of ``job``."""
    base = f"/v1/jobs/{job.id}"
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    return {
        "id": str(job.id),
        "status": job.status,
        "params": job.params,
        "progress": progress_view(job, live),
        "timings": {
            "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "queue_s": _seconds(job.created_at, job.started_at),
            "run_s": _seconds(job.started_at, job.finished_at),
        },
        "metrics": job.metrics,
        "weights_source": job.weights_source,
        "worker": job.worker,
        "attempts": job.attempts,
        "error": error,
        "links": {
            "self": base,
            "events": f"{base}/events",
            "cancel": f"{base}/cancel",
            "preview": f"{base}/preview",
            "result": f"{base}/result",
        },
    }


def status_event(job: Job) -> dict[str, Any]:
    """The ``status`` event describing the row as it is now."""
    event: dict[str, Any] = {"type": "status", "status": job.status}
    if job.error_code:
        event["error"] = {"code": job.error_code, "message": job.error_message}
    return event
