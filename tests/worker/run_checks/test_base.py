"""The checks' one interface: every check runs after each iteration, the first Stop wins, and
each reason to stop is a peer of the others."""

from __future__ import annotations

import uuid

from worker.engine import Progress, Stop
from worker.run_checks.base import RunState, run_checks
from worker.run_checks.cancel import Cancel
from worker.run_checks.lost_claim import LostClaim
from worker.run_checks.shutdown import Shutdown
from worker.run_checks.time_limit import TimeLimit

LOSSES = {"content": 1.0, "style": 2.0, "tv": 0.5, "total": 3.5}


def progress(iteration: int = 3, ms: float = 100.0) -> Progress:
    return Progress(iteration, 10, LOSSES, ms)


def test_every_check_runs_and_the_first_stop_wins() -> None:
    called: list[str] = []

    def recording(name: str, stop: Stop | None):
        def check(_progress: Progress, _state: RunState) -> Stop | None:
            called.append(name)
            return stop

        return check

    hook = run_checks(
        [
            recording("report", None),
            recording("lost", Stop.LOST),
            recording("cancel", Stop.CANCELED),
        ],
        RunState(uuid.uuid4(), 1),
    )
    assert hook(progress()) is Stop.LOST
    assert called == ["report", "lost", "cancel"]


def test_each_reason_stops_on_its_own_signal() -> None:
    state = RunState(uuid.uuid4(), 1)
    assert Cancel()(progress(), state) is None
    state.cancel_asked = True
    assert Cancel()(progress(), state) is Stop.CANCELED
    assert LostClaim()(progress(), state) is None
    state.lost.set()
    assert LostClaim()(progress(), state) is Stop.LOST
    assert TimeLimit(5.0, lambda: 4.0)(progress(), state) is None
    assert TimeLimit(5.0, lambda: 6.0)(progress(), state) is Stop.TIME_LIMIT


def test_a_stopping_worker_finishes_a_job_that_ends_within_the_grace() -> None:
    state = RunState(uuid.uuid4(), 1)
    asked_at = 100.0
    rule = Shutdown(grace_s=30.0, clock=lambda: 101.0, requested_at=lambda: asked_at)
    assert rule(progress(iteration=8, ms=1000.0), state) is None  # 2 s left: finishes
    assert rule(progress(iteration=1, ms=10_000.0), state) is Stop.SHUTDOWN  # 90 s left
    never = Shutdown(grace_s=30.0, requested_at=lambda: None)
    assert never(progress(iteration=1, ms=10_000.0), state) is None
