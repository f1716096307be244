"""The interface every run check shares, the run state they share, and how they are called."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from worker.engine.hooks import Progress, ProgressHook, Stop


@dataclass
class RunState:
    """What the checks learn about one run as it goes (the reporter and the heartbeat fill it)."""

    job_id: uuid.UUID
    attempt: int
    cancel_asked: bool = False
    lost: threading.Event = field(default_factory=threading.Event)
    last_event: dict[str, Any] | None = None  # the latest progress event


class RunCheck(Protocol):
    """Called after every iteration: a Stop ends the run there, None lets it go on."""

    def __call__(self, progress: Progress, state: RunState) -> Stop | None: ...


def run_checks(checks: Sequence[RunCheck], state: RunState) -> ProgressHook:
    """The engine's progress hook: every check, in order; the first Stop any returns wins."""

    def after_iteration(progress: Progress) -> Stop | None:
        stops = [check(progress, state) for check in checks]
        return next((stop for stop in stops if stop is not None), None)

    return after_iteration
