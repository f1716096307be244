"""Time limits derived from a job's size, shared by the API (task options) and the worker."""

from __future__ import annotations

from shared.params import MAX_ITERATIONS, MAX_SIZE, JobParams

# Seconds per iteration of a 256x256 image on a slow (2-core CPU) worker, with headroom.
SECONDS_PER_ITERATION_256 = 1.0
STARTUP_ALLOWANCE_S = 120.0


def soft_time_limit_s(params: JobParams) -> float:
    """Seconds after which the worker's own deadline stops the job and fails it ``time_limit``."""
    pixels_ratio = (params.max_size / 256) ** 2
    return STARTUP_ALLOWANCE_S + params.iterations * pixels_ratio * SECONDS_PER_ITERATION_256


def hard_time_limit_s(params: JobParams) -> float:
    """Seconds after which Celery kills the task outright (a backstop to the soft limit).

    Only a pool that enforces time limits applies it: prefork (``--concurrency`` > 1), not threads.
    """
    return soft_time_limit_s(params) * 1.25 + 60.0


def longest_hard_time_limit_s() -> float:
    """The hard time limit of the largest job the parameter ranges allow."""
    return hard_time_limit_s(JobParams(max_size=MAX_SIZE, iterations=MAX_ITERATIONS))
