"""The bodies of a job's events (``status``, ``progress``, ``preview``) and its progress object.

The worker publishes these on the progress channel; the API sends them over SSE and builds the
``progress`` and ``error`` of its job JSON with the same functions, so both always agree.
"""

from __future__ import annotations

from typing import Any


def job_error(code: str | None, message: str | None) -> dict[str, Any] | None:
    """``{code, message}`` of a failed job, or None when there is no error."""
    return {"code": code, "message": message} if code else None


def status_event(
    status: str, error_code: str | None = None, error_message: str | None = None
) -> dict[str, Any]:
    """``{type: status, status, error?}``: the job moved to ``status``."""
    event: dict[str, Any] = {"type": "status", "status": status}
    error = job_error(error_code, error_message)
    if error:
        event["error"] = error
    return event


def progress(
    iteration: int,
    total: int,
    losses: dict[str, float] | None,
    ms_per_iter: float | None,
    *,
    running: bool,
) -> dict[str, Any]:
    """``{iteration, total, percent, losses, ms_per_iter, eta_s}``; an ETA only while running."""
    remaining = max(total - iteration, 0)
    return {
        "iteration": iteration,
        "total": total,
        "percent": round(100.0 * iteration / total, 2) if total else 0.0,
        "losses": losses,
        "ms_per_iter": round(ms_per_iter, 3) if ms_per_iter is not None else None,
        "eta_s": round(remaining * ms_per_iter / 1000.0, 1) if running and ms_per_iter else None,
    }


def progress_event(
    iteration: int, total: int, losses: dict[str, float], ms_per_iter: float
) -> dict[str, Any]:
    """``{type: progress, ...progress}`` for one iteration of a running job."""
    return {"type": "progress", **progress(iteration, total, losses, ms_per_iter, running=True)}


def preview_event(iteration: int) -> dict[str, Any]:
    """``{type: preview, iteration}``: a new preview image was stored."""
    return {"type": "preview", "iteration": iteration}
