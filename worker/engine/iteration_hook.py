"""The optimiser's hook: counts iterations across pyramid levels, times them, calls the caller's
progress and preview hooks, and hands a progress hook's Stop back to the loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from shared.levels import fit_size
from worker.engine import imaging
from worker.engine.hooks import PreviewHook, Progress, ProgressHook, Stop
from worker.engine.optimize import Losses

# After the last iteration the engine measures the picture (worker/engine/quality.py): one
# float32 forward pass. Once its references are measured (before the last level) the hook knows
# what that pass costs (``finish_s``); until then it counts it as this many of the level's
# iterations at the final size (at 128 px a float32 pass cost 0.5-1 bfloat16 iterations on
# 2026-12-06).
FINISH_ITERATIONS = 1.0
# Previews of larger levels are scaled down to this longest side: a preview is for the eye, and
# encoding a print-sized one would cost more than an iteration.
PREVIEW_MAX_SIDE = 1024


def loss_dict(losses: Losses) -> dict[str, float]:
    """The step's weighted [content, style, tv] as floats by kind, and their sum.

    The sum leaves out L-BFGS's out-of-range penalty, so both optimisers report the same
    objective.
    """
    _, parts = losses
    content, style, tv = (float(value) for value in np.asarray(parts))
    return {"content": content, "style": style, "tv": tv, "total": content + style + tv}


class IterationHook:
    """Called after every iteration of every level.

    Each iteration is timed from the previous call to this one, less the preview written in
    between (its writer counts it apart); the first iteration of each level, which also pays
    for the level's set-up and the step's first trace for its shape, is reported as warm-up.
    """

    def __init__(
        self,
        budgets: Sequence[int],
        sizes: Sequence[tuple[int, int]],
        preview_every: int,
        on_progress: ProgressHook | None,
        on_preview: PreviewHook | None,
        started: float | None = None,
    ) -> None:
        self.started = time.perf_counter() if started is None else started
        self.first_preview_s: float | None = None
        self.finish_s: float | None = None  # the final measure's seconds, once known
        self.budgets, self.sizes = list(budgets), list(sizes)
        self.total = sum(self.budgets)
        self.preview_every = preview_every
        self.on_progress, self.on_preview = on_progress, on_preview
        self.finish: Callable[[np.ndarray], np.ndarray] = lambda image: image
        self.done = 0
        self.level = -1
        self.done_in_level = 0
        self.warmup_ms = 0.0
        self.steady_ms = 0.0
        self.preview_ms = 0.0
        self.last_tick = time.perf_counter()

    def start_level(self, finish: Callable[[np.ndarray], np.ndarray]) -> None:
        """The next pyramid level begins; ``finish`` turns its iterate into the RGB picture."""
        self.level += 1
        self.done_in_level = 0
        self.finish = finish

    @property
    def steady_ms_per_iter(self) -> float:
        """Mean time of the iterations after warm-up (all of them if there were no others)."""
        steady = self.done - (self.level + 1)
        return self.steady_ms / steady if steady > 0 else self.warmup_ms / max(self.done, 1)

    def work_left(self) -> float:
        """Iterations still to run, and the final measure while ``finish_s`` is unknown, in
        units of this level's iteration (pixels scale the cost)."""
        height, width = self.sizes[self.level]
        left = float(self.budgets[self.level] - self.done_in_level)
        if self.finish_s is None:
            h, w = self.sizes[-1]
            left += FINISH_ITERATIONS * (h * w) / (height * width)
        for budget, (h, w) in zip(
            self.budgets[self.level + 1 :], self.sizes[self.level + 1 :], strict=True
        ):
            left += budget * (h * w) / (height * width)
        return left

    def __call__(self, losses: Losses, get_image: Callable[[], np.ndarray]) -> Stop | None:
        """After each iteration: the progress hook's Stop, if it returned one."""
        values = loss_dict(losses)  # waits for the step: time it after this
        now = time.perf_counter()
        ms = (now - self.last_tick) * 1e3 - self.preview_ms
        self.last_tick, self.preview_ms = now, 0.0
        self.done += 1
        self.done_in_level += 1
        warmup = self.done_in_level == 1
        if warmup:
            self.warmup_ms += ms
        else:
            self.steady_ms += ms
        stop = None
        if self.on_progress is not None:
            progress = Progress(
                self.done, self.total, values, ms, warmup, self.work_left(), self.finish_s or 0.0
            )
            stop = self.on_progress(progress)
        if (
            self.on_preview is not None
            and self.preview_every
            and (self.done % self.preview_every == 0)
        ):
            started = time.perf_counter()
            picture = self.finish(get_image()[0])
            if max(picture.shape[:2]) > PREVIEW_MAX_SIDE:
                picture = imaging.resize(picture, fit_size(*picture.shape[:2], PREVIEW_MAX_SIDE))
            self.on_preview(self.done, imaging.to_uint8(picture))
            self.preview_ms = (time.perf_counter() - started) * 1e3
            if self.first_preview_s is None:
                self.first_preview_s = time.perf_counter() - self.started
        return stop
