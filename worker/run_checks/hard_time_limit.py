"""The hard time limit, on every pool: a run stuck inside one iteration is still ended.

The per-iteration checks cannot see a run that never finishes its iteration. A thread watches
the run's hard deadline: past it, the job is ended ``failed``/``time_limit`` (so its run can
no longer write anything), and if the run has still not returned ``exit_after_s`` later, the
worker process exits: it is stuck where nothing else can reach it, and its supervisor
(compose's restart policy, ``stylize up``) starts a fresh one. The reaper fails such a job too,
whatever its heartbeat says (shared/reaper.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)
STUCK_EXIT_CODE = 70


class HardTimeLimit:
    """Ends the run ``limit_s`` after it starts by calling ``end``, then exits if stuck."""

    def __init__(
        self,
        limit_s: float,
        end: Callable[[], None],
        *,
        exit_after_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        self.limit_s, self.end, self.exit_after_s = limit_s, end, exit_after_s
        self.clock, self.exit_process = clock, exit_process
        self.deadline = clock()
        self.fired = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hard-time-limit", daemon=True)

    def __enter__(self) -> HardTimeLimit:
        self.deadline = self.clock() + self.limit_s
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        if self._done.wait(max(0.0, self.deadline - self.clock())):
            return  # the run returned in time
        self.fired.set()
        log.error("the run passed its hard time limit; ending its job time_limit")
        try:
            self.end()
        except Exception:  # the reaper ends it too
            log.exception("could not end the job at its hard time limit")
        if not self._done.wait(self.exit_after_s):
            log.critical(
                "the run is still stuck %.0f s after its hard time limit; exiting the worker "
                "so that a fresh one takes over",
                self.exit_after_s,
            )
            self.exit_process(STUCK_EXIT_CODE)
