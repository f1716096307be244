"""grid_jitter: the view the step shows VGG16, the shifts' schedule, and jobs run with it."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from tests.support.engine import quick
from worker.engine import StyleEngine
from worker.engine.jitter import HOLD, per_step, shifted_region, shifted_view


@pytest.mark.parametrize("shift", [(0, 0), (8, 8), (3, 5)])
def test_the_step_and_the_targets_see_the_picture_at_the_same_shift(
    shift: tuple[int, int],
) -> None:
    margin = 8
    image = np.random.default_rng(0).uniform(0, 255, (1, 20, 24, 3)).astype(np.float32)
    traced = ops.convert_to_numpy(shifted_view(image, ops.convert_to_tensor(shift), margin))
    numpy = shifted_region(image[0], np.array(shift), margin)
    assert traced.shape == (1, 28, 32, 3)
    np.testing.assert_array_equal(traced[0], numpy)
    top, left = margin - shift[0], margin - shift[1]  # where the picture's corner went
    np.testing.assert_array_equal(numpy[top : top + 20, left : left + 24], image[0])
    # beyond the picture, its reflection: the edge pixel first, then the ones inside it
    if top >= 2:
        np.testing.assert_array_equal(numpy[top - 1, left : left + 24], image[0, 0])
        np.testing.assert_array_equal(numpy[top - 2, left : left + 24], image[0, 1])


def _recorded(margin: int, seed: int, steps: int) -> tuple[list[object], list[tuple]]:
    calls: list[tuple] = []

    def targets(content: np.ndarray, shift: np.ndarray | None = None) -> object:
        calls.append((content, None if shift is None else tuple(int(s) for s in shift)))
        return object()

    at = per_step(targets, np.zeros((4, 4, 3)), margin, seed, (40, 48))
    return [at(step) for step in range(steps)], calls


def test_each_shift_holds_for_hold_steps_and_its_targets_are_computed_once() -> None:
    seen, calls = _recorded(margin=8, seed=3, steps=3 * HOLD + 1)
    assert len(calls) == 4  # steps 0, HOLD, 2 HOLD, 3 HOLD
    for start in range(0, 3 * HOLD, HOLD):
        assert all(target is seen[start] for target in seen[start : start + HOLD])
    assert len({id(target) for target in seen}) == 4
    shifts = [shift for _, shift in calls]
    assert all(0 <= value <= 8 for shift in shifts for value in shift)


def test_the_shifts_come_from_the_seed() -> None:
    steps = 40 * HOLD
    first = [shift for _, shift in _recorded(8, 3, steps)[1]]
    assert first == [shift for _, shift in _recorded(8, 3, steps)[1]]
    assert first != [shift for _, shift in _recorded(8, 4, steps)[1]]
    assert {value for shift in first for value in shift} == set(range(9))  # every offset


def test_without_jitter_the_targets_are_computed_once_unshifted() -> None:
    seen, calls = _recorded(margin=0, seed=3, steps=2 * HOLD)
    assert len(calls) == 1 and calls[0][1] is None
    assert all(target is seen[0] for target in seen)


def test_a_jittered_job_lowers_its_loss_is_reproducible_and_differs(
    hed_engine: StyleEngine, content: np.ndarray, style: np.ndarray
) -> None:
    params = quick(iterations=12, grid_jitter=6, seed=5)
    result = hed_engine.run(content, [style], params)
    again = hed_engine.run(content, [style], params).image
    plain = hed_engine.run(content, [style], quick(iterations=12, seed=5)).image
    assert result.image.shape == (32, 48, 3)
    assert result.losses["total"] < 0.7 * result.initial_losses["total"]
    np.testing.assert_array_equal(result.image, again)
    assert np.abs(result.image.astype(int) - plain.astype(int)).mean() > 0.5


def test_a_new_shift_does_not_trace_the_step_again(content: np.ndarray, style: np.ndarray) -> None:
    engine = StyleEngine.load("random")
    engine.run(content, [style], quick(iterations=4 * HOLD, grid_jitter=8))
    assert engine.trace_count == 1
