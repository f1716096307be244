"""How fast a running job goes and when it will end.

The rate is the median of the last few iterations' times: one slow iteration (a pause, a
garbage collection) does not move it, a lasting change of machine load shows after half a
window. Warm-up iterations (set-up, tracing) are kept out of it; previews and storing the
result are counted apart, at what the last preview cost.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from worker.engine.hooks import Progress

WINDOW = 9  # iterations in the median: a new speed shows after 5 of them


def previews_left(progress: Progress, preview_every: int) -> int:
    """Previews still to be written when ``progress`` is reported, its own iteration's included
    (the engine writes that one after the report)."""
    if not preview_every:
        return 0
    return progress.total // preview_every - (progress.iteration - 1) // preview_every


@dataclass
class Pace:
    """The recent time per iteration of one run, and its warm-up time."""

    recent: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    warmup_s: float = 0.0

    def observe(self, progress: Progress) -> None:
        """Take one iteration's time in (a warm-up iteration counts apart)."""
        seconds = progress.ms_per_iter / 1e3
        if progress.warmup:
            self.warmup_s += seconds
        else:
            self.recent.append(seconds)

    @property
    def seconds_per_iter(self) -> float | None:
        """The median of the recent iterations; None before the first one after warm-up."""
        return statistics.median(self.recent) if self.recent else None

    @property
    def ms_per_iter(self) -> float | None:
        """``seconds_per_iter`` in ms."""
        rate = self.seconds_per_iter
        return None if rate is None else rate * 1e3

    def eta_s(self, progress: Progress, preview_every: int, preview_s: float) -> float | None:
        """Seconds until the job ends: the work left at the recent rate with the final measure,
        the previews left, and storing the result (about one preview's cost); None until the
        rate is known."""
        rate = self.seconds_per_iter
        if rate is None:
            return None
        previews = previews_left(progress, preview_every) + 1  # the result is stored like one
        return progress.seconds_left(rate) + previews * preview_s
