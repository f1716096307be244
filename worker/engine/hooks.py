"""What a run reports and returns, free of Keras and TensorFlow.

A progress hook gets a ``Progress`` after every iteration and returns a ``Stop`` to end the run
there, or None to go on; the run's ``EngineResult.stopped`` carries that ``Stop``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


class Stop(enum.StrEnum):
    """Why a progress hook ended a run early."""

    CANCELED = "canceled"
    TIME_LIMIT = "time_limit"
    SHUTDOWN = "shutdown"  # the worker is stopping: hand the job back to the queue
    LOST = "lost"  # the row is no longer this run's (the reaper moved it): write nothing


@dataclass(frozen=True)
class Progress:
    """One iteration's report; ``iteration`` is 1-based and counts across pyramid levels.

    ``ms_per_iter`` is this iteration's wall time, previews left out; ``warmup`` marks
    the first iteration of a level, which also paid for set-up and tracing; ``work_left`` is
    the iterations still to run in units of this one (coarse levels cost less); None means
    ``total - iteration``; ``finish_s`` is what the job's end costs beyond that, in seconds,
    when measured (its final quality pass).
    """

    iteration: int
    total: int
    losses: dict[str, float]
    ms_per_iter: float
    warmup: bool = False
    work_left: float | None = None
    finish_s: float = 0.0

    @property
    def iterations_left(self) -> float:
        """``work_left``, or the plain count of iterations still to run."""
        return self.total - self.iteration if self.work_left is None else self.work_left

    def seconds_left(self, seconds_per_iter: float) -> float:
        """The run's time left at ``seconds_per_iter``: ``iterations_left`` and ``finish_s``."""
        return self.iterations_left * seconds_per_iter + self.finish_s


ProgressHook = Callable[[Progress], Stop | None]
PreviewHook = Callable[[int, np.ndarray], None]  # (iteration, RGB uint8 image)


# A job whose style loss fell by less than this share is reported as "style did not arrive".
MIN_STYLE_DROP = 0.5


@dataclass(frozen=True)
class Quality:
    """Whether the style arrived in the saved picture; smaller ratios are closer.

    Measured by ``worker.engine.quality`` with plain Gatys losses at the job's layers.
    """

    style_ratio: float  # style loss / the content image's style loss: 0 matched, 1 none arrived
    content_ratio: float  # content loss / the style image's content loss: 0 kept, 1 lost
    style_drop: float  # 1 - style loss / the starting image's style loss

    @property
    def style_arrived(self) -> bool:
        """False when the style loss fell by less than MIN_STYLE_DROP."""
        return self.style_drop >= MIN_STYLE_DROP

    def as_dict(self) -> dict[str, float]:
        """The three ratios rounded for metrics and reports."""
        return {name: round(value, 4) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class EngineResult:
    """The picture and how it was made; ``stopped`` is the hook's Stop if one ended the run."""

    image: np.ndarray
    iterations: int
    total_iterations: int
    seconds: float
    ms_per_iter: float  # mean of the iterations after each level's first (warm-up) one
    warmup_s: float  # the first iteration of each level: set-up and tracing
    losses: dict[str, float]
    initial_losses: dict[str, float]
    weights_source: str
    stopped: Stop | None
    quality: Quality
    precision: str = "float32"  # the arithmetic the network ran in
    first_preview_s: float | None = None  # from the start of the run to its first preview
