"""The row is no longer this run's (the reaper requeued or ended it): stop and write nothing."""

from __future__ import annotations

from worker.engine.hooks import Progress, Stop
from worker.run_checks.base import RunState


class LostClaim:
    """Stop.LOST once the heartbeat found the row taken over."""

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        return Stop.LOST if state.lost.is_set() else None
