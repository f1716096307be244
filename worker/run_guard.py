"""The progress hook a job runs with: the reporter, plus the stops a run cannot see itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from worker.engine.hooks import Progress, ProgressHook, Stop
from worker.shutdown import ShutdownRule


@dataclass(frozen=True)
class RunGuard:
    """Calls ``report`` (live progress; its Stop for a cancel or the deadline), then ends the run
    with Stop.LOST once ``lost`` is set (the row is no longer this run's) or Stop.SHUTDOWN when
    the worker is stopping and the job would not end within the grace."""

    report: ProgressHook
    lost: threading.Event
    shutdown: ShutdownRule

    def __call__(self, progress: Progress) -> Stop | None:
        stop = self.report(progress)
        if self.lost.is_set():
            return Stop.LOST
        if stop is not None:
            return stop
        if self.shutdown.hand_back(progress):
            return Stop.SHUTDOWN
        return None
