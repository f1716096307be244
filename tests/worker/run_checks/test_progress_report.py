"""The progress report's own logic: event shape, DB write throttling, cancels it learns of."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from shared.job_events import progress_event
from worker.engine import Progress
from worker.run_checks.base import RunState
from worker.run_checks.progress_report import ReportProgress

LOSSES = {"content": 1.0, "style": 2.0, "tv": 0.5, "total": 3.5}


@dataclass
class RecordingChannel:
    """Stands in for Redis: records events and answers the cancel flag."""

    cancel: bool = False
    events: list[dict] = field(default_factory=list)

    def publish(self, job_id: str, event: dict) -> bool:
        self.events.append(event)
        return self.cancel


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_reporter(
    channel: RecordingChannel, clock: Clock, row_cancel: bool = False
) -> tuple[ReportProgress, list[int]]:
    """A reporter whose DB write is recorded (and answers ``row_cancel`` like the row would)."""
    flushed: list[int] = []
    reporter = ReportProgress(
        channel,  # type: ignore[arg-type]
        sessions=None,  # type: ignore[arg-type]
        db_interval_s=1.0,
        clock=clock,
    )

    def flush(progress: Progress, state: RunState) -> None:
        flushed.append(progress.iteration)
        state.cancel_asked |= row_cancel

    reporter.flush = flush  # type: ignore[method-assign]
    return reporter, flushed


def test_progress_event_has_percent_and_eta() -> None:
    event = progress_event(iteration=25, total=100, losses=LOSSES, ms_per_iter=200.04)
    assert event["type"] == "progress"
    assert event["percent"] == 25.0
    assert event["eta_s"] == pytest.approx(15.0)  # without the worker's own estimate
    assert event["ms_per_iter"] == 200.0, "rounded to 0.1 ms, like the final figure"
    assert event["losses"] == LOSSES
    given = progress_event(25, 100, LOSSES, 200.0, eta_s=21.456, at=1000.0)
    assert (given["eta_s"], given["at"]) == (21.46, 1000.0)


def test_the_reporter_publishes_a_smoothed_rate_and_its_eta() -> None:
    channel, clock = RecordingChannel(), Clock()
    reporter, _ = make_reporter(channel, clock)
    reporter.preview_every, reporter.preview_s = 5, lambda: 0.5
    state = RunState(uuid.uuid4(), 1)
    reporter(Progress(1, 10, LOSSES, 3000.0, warmup=True), state)
    assert channel.events[-1]["ms_per_iter"] is None and channel.events[-1]["eta_s"] is None
    for iteration, ms in ((2, 100.0), (3, 900.0), (4, 100.0)):
        reporter(Progress(iteration, 10, LOSSES, ms), state)
    event = channel.events[-1]
    assert event["ms_per_iter"] == 100.0, "the median: one slow iteration does not count"
    assert event["eta_s"] == pytest.approx(6 * 0.1 + 3 * 0.5)  # previews at 5, 10; the result
    assert state.last_event is event and event["at"] > 0


def test_every_iteration_is_published_but_db_writes_are_throttled() -> None:
    channel, clock = RecordingChannel(), Clock()
    reporter, flushed = make_reporter(channel, clock)
    state = RunState(uuid.uuid4(), 1)
    for iteration in range(1, 11):
        clock.now = iteration * 0.25  # four iterations per second
        assert reporter(Progress(iteration, 10, LOSSES, 250.0), state) is None
    assert [event["iteration"] for event in channel.events] == list(range(1, 11))
    assert flushed == [1, 5, 9, 10], "at most one DB write a second, plus the last iteration"


@pytest.mark.parametrize(("redis_flag", "row_flag"), [(True, False), (False, True)])
def test_a_cancel_is_learned_from_redis_or_from_the_row(redis_flag: bool, row_flag: bool) -> None:
    channel, clock = RecordingChannel(cancel=redis_flag), Clock()
    reporter, _ = make_reporter(channel, clock, row_cancel=row_flag)
    state = RunState(uuid.uuid4(), 1)
    reporter(Progress(3, 10, LOSSES, 100.0), state)
    assert state.cancel_asked
