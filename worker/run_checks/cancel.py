"""A cancel was asked for: through Redis (read with every progress publish) or in the row
(read with every progress write, so a cancel holds even if Redis lost its flag)."""

from __future__ import annotations

from worker.engine.hooks import Progress, Stop
from worker.run_checks.base import RunState


class Cancel:
    """Stop.CANCELED once the run learned of a cancel."""

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        return Stop.CANCELED if state.cancel_asked else None
