"""Time limits derived from a job's size, shared by the API (task options) and the worker."""

from __future__ import annotations

from shared.levels import work
from shared.params import MAX_WORK, JobParams

# Seconds per iteration of a 256x256 image on a slow (2-core CPU) worker, with headroom (also for
# the overlap of tiles, which adds up to half of a tiled level's work).
SECONDS_PER_ITERATION_256 = 1.0
STARTUP_ALLOWANCE_S = 120.0


def soft_time_limit_s(params: JobParams) -> float:
    """Seconds after which the worker's own deadline stops the job and fails it ``time_limit``:
    its work over all levels (``shared.levels.work``) at the slow worker's pace."""
    return STARTUP_ALLOWANCE_S + work(params) * SECONDS_PER_ITERATION_256


def hard_time_limit_s(params: JobParams) -> float:
    """Seconds after which Celery kills the task outright (a backstop to the soft limit).

    Only a pool that enforces time limits applies it: prefork (``--concurrency`` > 1), not threads.
    """
    return _hard(soft_time_limit_s(params))


def _hard(soft_s: float) -> float:
    return soft_s * 1.25 + 60.0


def longest_hard_time_limit_s() -> float:
    """The hard time limit of the largest job the parameters allow (MAX_WORK)."""
    return _hard(STARTUP_ALLOWANCE_S + MAX_WORK * SECONDS_PER_ITERATION_256)
