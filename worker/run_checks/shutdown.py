"""Graceful stop: a process-wide flag set when the worker is asked to shut down (SIGTERM,
Ctrl-C), and the check that decides between finishing the job and requeueing it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.engine.hooks import Progress, Stop
from worker.run_checks.base import RunState

_lock = threading.Lock()
_requested_at: float | None = None


def request_shutdown(**_: object) -> None:
    """Celery ``worker_shutting_down`` handler: note when the stop was asked for (first time)."""
    global _requested_at
    with _lock:
        if _requested_at is None:
            _requested_at = time.monotonic()


def shutdown_requested_at() -> float | None:
    """``time.monotonic()`` when this process was asked to stop, or None."""
    return _requested_at


def reset_shutdown() -> None:
    """Forget a shutdown request (tests run several jobs in one process)."""
    global _requested_at
    with _lock:
        _requested_at = None


@dataclass(frozen=True)
class Shutdown:
    """Once a stop was asked for: go on only if the job ends within ``grace_s`` of that;
    else Stop.SHUTDOWN (the job goes back to the queue for another worker)."""

    grace_s: float
    clock: Callable[[], float] = time.monotonic
    requested_at: Callable[[], float | None] = shutdown_requested_at

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        asked = self.requested_at()
        if asked is None:
            return None
        left_s = progress.seconds_left(progress.ms_per_iter / 1000.0)
        return Stop.SHUTDOWN if self.clock() + left_s > asked + self.grace_s else None
