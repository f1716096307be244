"""The soft time limit: past it, the run stops and the job fails ``time_limit``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.engine.hooks import Progress, Stop
from worker.run_checks.base import RunState


@dataclass(frozen=True)
class TimeLimit:
    """Stop.TIME_LIMIT once ``clock()`` passed ``deadline``."""

    deadline: float
    clock: Callable[[], float] = time.monotonic

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        return Stop.TIME_LIMIT if self.clock() > self.deadline else None
