"""Per-iteration hooks around the engine loop: live progress, DB progress, previews, stop.

Free of Keras and TensorFlow (a test holds it to that): it only needs the engine's hook types.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.images import PREVIEW_FORMAT, encode_image
from shared.job_events import preview_event, progress_event, round_ms
from shared.progress_channel import ProgressChannel
from shared.storage import Storage
from shared.storage.keys import preview_key
from worker.engine.hooks import Progress, Stop
from worker.pace import Pace

log = logging.getLogger(__name__)


@dataclass
class ProgressReporter:
    """The engine's progress hook for one job.

    Every iteration: one pipelined Redis round trip (state hash, publish, cancel flag).
    At most every ``db_interval_s``: the row's progress columns and heartbeat, written only
    while the row is still run ``attempt``'s (best effort: the heartbeat thread keeps trying).
    Returns Stop.CANCELED once a cancel was asked for, Stop.TIME_LIMIT after ``deadline``.
    """

    job_id: uuid.UUID
    attempt: int
    channel: ProgressChannel
    sessions: sessionmaker[Session]
    db_interval_s: float
    deadline: float
    clock: Callable[[], float] = time.monotonic
    preview_every: int = 0
    preview_s: Callable[[], float] = lambda: 0.0  # what the last preview took to write
    pace: Pace = field(default_factory=Pace)
    last_event: dict[str, Any] | None = None  # the latest progress event, for webhooks
    _last_db_write: float = field(default=float("-inf"))

    def __call__(self, progress: Progress) -> Stop | None:
        self.pace.observe(progress)
        event = progress_event(
            progress.iteration,
            progress.total,
            progress.losses,
            self.pace.ms_per_iter,
            self.pace.eta_s(progress, self.preview_every, self.preview_s()),
            at=time.time(),
        )
        self.last_event = event
        try:
            cancel = self.channel.publish(str(self.job_id), event)
        except redis.RedisError:  # the live view is best effort; the DB row still advances
            log.warning("progress publish failed for job %s", self.job_id, exc_info=True)
            cancel = False
        now = self.clock()
        if now - self._last_db_write >= self.db_interval_s or progress.iteration == progress.total:
            self._last_db_write = now
            self.flush(progress)
        if cancel:
            return Stop.CANCELED
        if now > self.deadline:
            return Stop.TIME_LIMIT
        return None

    def flush(self, progress: Progress) -> None:
        """Write ``progress`` to the job row; a database outage only skips this write."""
        try:
            with self.sessions() as session:
                job_store.record_progress(
                    session,
                    self.job_id,
                    self.attempt,
                    iteration=progress.iteration,
                    losses=progress.losses,
                    ms_per_iter=round_ms(self.pace.ms_per_iter),
                )
        except SQLAlchemyError as exc:
            log.warning("progress write failed for job %s (%s); going on", self.job_id, exc)


@dataclass
class PreviewWriter:
    """The engine's preview hook: store the image and announce it (best effort: a database or
    Redis outage skips the announcement, never the job)."""

    job_id: uuid.UUID
    attempt: int
    storage: Storage
    channel: ProgressChannel
    sessions: sessionmaker[Session]
    seconds: float = 0.0  # how long the last preview took to encode, store and announce

    def __call__(self, iteration: int, image: np.ndarray) -> None:
        started = time.perf_counter()
        key = preview_key(self.job_id, PREVIEW_FORMAT.extension)
        self.storage.put(key, encode_image(image, PREVIEW_FORMAT.name))
        try:
            with self.sessions() as session:
                job_store.set_preview(session, self.job_id, self.attempt, key)
            self.channel.publish(str(self.job_id), preview_event(iteration))
        except (SQLAlchemyError, redis.RedisError) as exc:
            log.warning("preview of job %s not announced (%s)", self.job_id, exc)
        self.seconds = time.perf_counter() - started
