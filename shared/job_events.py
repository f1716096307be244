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


def round_ms(ms: float | None) -> float | None:
    """Milliseconds as every figure shows them, live or final: 0.1 ms."""
    return None if ms is None else round(ms, 1)


def progress(
    iteration: int,
    total: int,
    losses: dict[str, float] | None,
    ms_per_iter: float | None,
    *,
    running: bool,
    eta_s: float | None = None,
) -> dict[str, Any]:
    """``{iteration, total, percent, losses, ms_per_iter, eta_s}``; an ETA only while running.

    ``eta_s`` is the worker's estimate when it gave one, else iterations left x ms_per_iter.
    """
    if eta_s is None and ms_per_iter:
        eta_s = max(total - iteration, 0) * ms_per_iter / 1000.0
    return {
        "iteration": iteration,
        "total": total,
        "percent": round(100.0 * iteration / total, 2) if total else 0.0,
        "losses": losses,
        "ms_per_iter": round_ms(ms_per_iter),
        "eta_s": round(max(eta_s, 0.0), 2) if running and eta_s is not None else None,
    }


def progress_event(
    iteration: int,
    total: int,
    losses: dict[str, float],
    ms_per_iter: float | None,
    eta_s: float | None = None,
    *,
    at: float | None = None,
) -> dict[str, Any]:
    """``{type: progress, ...progress, at?}`` for one iteration of a running job; ``at`` (Unix
    seconds) is when the figures were true, so a later reader can age the ETA."""
    event = {
        "type": "progress",
        **progress(iteration, total, losses, ms_per_iter, running=True, eta_s=eta_s),
    }
    if at is not None:
        event["at"] = round(at, 3)
    return event


def preview_event(iteration: int) -> dict[str, Any]:
    """``{type: preview, iteration}``: a new preview image was stored."""
    return {"type": "preview", "iteration": iteration}
