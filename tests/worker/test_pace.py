"""The running job's rate and ETA: warm-up apart, robust to one slow iteration, quick to
follow a lasting change of speed, previews and the result's storing counted."""

from __future__ import annotations

import pytest

from worker.engine.hooks import Progress
from worker.pace import WINDOW, Pace, previews_left


def step(iteration: int, ms: float, total: int = 100, warmup: bool = False) -> Progress:
    return Progress(iteration, total, {}, ms, warmup)


def test_warm_up_is_kept_out_of_the_rate() -> None:
    pace = Pace()
    pace.observe(step(1, 4000.0, warmup=True))
    assert pace.ms_per_iter is None and pace.eta_s(step(1, 0), 0, 0.0) is None
    for n in range(2, 6):
        pace.observe(step(n, 100.0))
    assert pace.ms_per_iter == pytest.approx(100.0)
    assert pace.warmup_s == pytest.approx(4.0)


def test_one_slow_iteration_does_not_move_the_rate() -> None:
    pace = Pace()
    for n in range(1, 11):
        pace.observe(step(n, 100.0))
    pace.observe(step(11, 3000.0))
    assert pace.ms_per_iter == pytest.approx(100.0)


def test_a_lasting_change_of_speed_shows_within_half_a_window() -> None:
    pace = Pace()
    for n in range(1, 21):
        pace.observe(step(n, 100.0))
    for n in range(21, 21 + WINDOW // 2 + 1):
        pace.observe(step(n, 300.0))
    assert pace.ms_per_iter == pytest.approx(300.0)


def test_eta_counts_iterations_previews_and_the_result() -> None:
    pace = Pace()
    pace.observe(step(40, 200.0))
    now = step(40, 200.0)
    # 60 iterations at 0.2 s; previews at 40 (written after this report) ..100: 7, and the
    # result: 8 x 0.5 s
    assert previews_left(now, 10) == 7
    assert previews_left(step(41, 200.0), 10) == 6
    assert previews_left(step(100, 200.0), 10) == 1
    assert pace.eta_s(now, 10, 0.5) == pytest.approx(60 * 0.2 + 8 * 0.5)
    assert pace.eta_s(now, 0, 0.5) == pytest.approx(60 * 0.2 + 0.5)


def test_eta_adds_the_measured_final_pass() -> None:
    pace = Pace()
    pace.observe(step(99, 200.0))
    last = Progress(100, 100, {}, 200.0, False, work_left=0.0, finish_s=0.07)
    assert pace.eta_s(last, 0, 0.01) == pytest.approx(0.07 + 0.01)


def test_work_left_weighs_the_finer_levels_of_a_pyramid() -> None:
    pace = Pace()
    pace.observe(step(5, 100.0))
    coarse = Progress(5, 20, {}, 100.0, False, work_left=5 + 10 * 4.0)  # finer level: 4x pixels
    assert pace.eta_s(coarse, 0, 0.0) == pytest.approx(4.5)
