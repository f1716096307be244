"""The hard time limit watches from a thread: it ends the job at the deadline, and exits the
process only when the run stays stuck after that."""

from __future__ import annotations

import threading
import time

from worker.run_checks.hard_time_limit import STUCK_EXIT_CODE, HardTimeLimit


def test_a_run_that_returns_in_time_is_left_alone() -> None:
    ended: list[bool] = []
    exits: list[int] = []
    with HardTimeLimit(5, lambda: ended.append(True), exit_process=exits.append) as limit:
        time.sleep(0.05)
    assert not limit.fired.is_set() and ended == [] and exits == []


def test_a_stuck_run_is_ended_then_the_process_exits() -> None:
    ended = threading.Event()
    exits: list[int] = []
    limit = HardTimeLimit(0.1, ended.set, exit_after_s=0.2, exit_process=exits.append)
    with limit:
        assert ended.wait(5), "the job was ended at the deadline"
        deadline = time.monotonic() + 5
        while not exits and time.monotonic() < deadline:  # the run stays "stuck" here
            time.sleep(0.02)
    assert exits == [STUCK_EXIT_CODE]


def test_a_run_that_returns_after_the_deadline_is_not_killed() -> None:
    ended = threading.Event()
    exits: list[int] = []
    with HardTimeLimit(0.05, ended.set, exit_after_s=5, exit_process=exits.append):
        assert ended.wait(5)
    assert exits == []
