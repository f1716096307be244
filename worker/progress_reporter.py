"""Per-iteration hooks around the engine loop: live progress, DB progress, previews, stop."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import redis
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.images import encode_image
from shared.progress_channel import ProgressChannel
from shared.storage import Storage
from worker.engine import Progress

log = logging.getLogger(__name__)


def progress_event(progress: Progress) -> dict[str, object]:
    """The public progress event for one iteration (what the API and SSE clients see)."""
    remaining = progress.total - progress.iteration
    return {
        "type": "progress",
        "iteration": progress.iteration,
        "total": progress.total,
        "percent": round(100.0 * progress.iteration / progress.total, 2),
        "losses": progress.losses,
        "ms_per_iter": round(progress.ms_per_iter, 3),
        "eta_s": round(remaining * progress.ms_per_iter / 1000.0, 1),
    }


@dataclass
class ProgressReporter:
    """The engine's ``on_progress`` callback for one job.

    Every iteration: one pipelined Redis round trip (state hash, publish, cancel flag).
    At most every ``db_interval_s``: the job row's progress columns and heartbeat.
    Returns "stop" when the job was cancelled or ran past its deadline.
    """

    job_id: uuid.UUID
    channel: ProgressChannel
    sessions: sessionmaker[Session]
    db_interval_s: float
    deadline: float
    clock: Callable[[], float] = time.monotonic
    stop_reason: str | None = None
    _last_db_write: float = field(default=float("-inf"))

    def __call__(self, progress: Progress) -> str | None:
        try:
            cancel = self.channel.publish(str(self.job_id), progress_event(progress))
        except redis.RedisError:  # the live view is best effort; the DB row still advances
            log.warning("progress publish failed for job %s", self.job_id, exc_info=True)
            cancel = False
        now = self.clock()
        if now - self._last_db_write >= self.db_interval_s or progress.iteration == progress.total:
            self._last_db_write = now
            self.flush(progress)
        if cancel:
            self.stop_reason = "canceled"
        elif now > self.deadline:
            self.stop_reason = "time_limit"
        return "stop" if self.stop_reason else None

    def flush(self, progress: Progress) -> None:
        """Write ``progress`` to the job row."""
        with self.sessions() as session:
            job_store.record_progress(
                session,
                self.job_id,
                iteration=progress.iteration,
                losses=progress.losses,
                ms_per_iter=progress.ms_per_iter,
            )


@dataclass
class PreviewWriter:
    """The engine's ``on_preview`` callback: store the image and announce it."""

    job_id: uuid.UUID
    storage: Storage
    channel: ProgressChannel
    sessions: sessionmaker[Session]
    key: str = ""

    def __post_init__(self) -> None:
        self.key = f"jobs/{self.job_id}/preview.png"

    def __call__(self, iteration: int, image: np.ndarray) -> None:
        self.storage.put(self.key, encode_image(image, "png"))
        with self.sessions() as session:
            job_store.set_preview(session, self.job_id, self.key)
        self.channel.publish(str(self.job_id), {"type": "preview", "iteration": iteration})
