"""The reporter's own logic: event shape, DB write throttling, cancel and deadline stops."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from shared.job_events import progress_event
from worker.engine import Progress, Stop
from worker.progress_reporter import ProgressReporter

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


def make_reporter(channel: RecordingChannel, clock: Clock, deadline: float = 1e9):
    flushed: list[int] = []
    reporter = ProgressReporter(
        job_id=uuid.uuid4(),
        attempt=1,
        channel=channel,  # type: ignore[arg-type]
        sessions=None,  # type: ignore[arg-type]
        db_interval_s=1.0,
        deadline=deadline,
        clock=clock,
    )
    reporter.flush = lambda progress: flushed.append(progress.iteration)  # type: ignore[method-assign]
    return reporter, flushed


def test_progress_event_has_percent_and_eta() -> None:
    event = progress_event(iteration=25, total=100, losses=LOSSES, ms_per_iter=200.0)
    assert event["type"] == "progress"
    assert event["percent"] == 25.0
    assert event["eta_s"] == pytest.approx(15.0)
    assert event["losses"] == LOSSES


def test_every_iteration_is_published_but_db_writes_are_throttled() -> None:
    channel, clock = RecordingChannel(), Clock()
    reporter, flushed = make_reporter(channel, clock)
    for iteration in range(1, 11):
        clock.now = iteration * 0.25  # four iterations per second
        assert reporter(Progress(iteration, 10, LOSSES, 250.0)) is None
    assert [event["iteration"] for event in channel.events] == list(range(1, 11))
    assert flushed == [1, 5, 9, 10], "at most one DB write a second, plus the last iteration"


def test_cancel_flag_stops_the_loop() -> None:
    channel, clock = RecordingChannel(cancel=True), Clock()
    reporter, _ = make_reporter(channel, clock)
    assert reporter(Progress(3, 10, LOSSES, 100.0)) is Stop.CANCELED


def test_deadline_stops_the_loop() -> None:
    channel, clock = RecordingChannel(), Clock()
    reporter, _ = make_reporter(channel, clock, deadline=5.0)
    clock.now = 4.0
    assert reporter(Progress(1, 10, LOSSES, 100.0)) is None
    clock.now = 6.0
    assert reporter(Progress(2, 10, LOSSES, 100.0)) is Stop.TIME_LIMIT
