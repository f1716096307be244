"""What a run reports and returns, free of Keras and TensorFlow.

A progress hook gets a ``Progress`` after every iteration and returns a ``Stop`` to end the run
there, or None to go on; the run's ``EngineResult.stopped`` carries that ``Stop``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class Stop(enum.StrEnum):
    """Why a progress hook ended a run early."""

    CANCELED = "canceled"
    TIME_LIMIT = "time_limit"
    SHUTDOWN = "shutdown"  # the worker is stopping: hand the job back to the queue
    LOST = "lost"  # the row is no longer this run's (the reaper moved it): write nothing


@dataclass(frozen=True)
class Progress:
    """One iteration's report; ``iteration`` is 1-based and counts across pyramid levels."""

    iteration: int
    total: int
    losses: dict[str, float]
    ms_per_iter: float


ProgressHook = Callable[[Progress], Stop | None]
PreviewHook = Callable[[int, np.ndarray], None]  # (iteration, RGB uint8 image)


@dataclass(frozen=True)
class EngineResult:
    """The picture and how it was made; ``stopped`` is the hook's Stop if one ended the run."""

    image: np.ndarray
    iterations: int
    total_iterations: int
    seconds: float
    ms_per_iter: float
    losses: dict[str, float]
    initial_losses: dict[str, float]
    weights_source: str
    stopped: Stop | None
