"""Live and stored progress, and what it learns of cancels on the way.

Every iteration: one pipelined Redis round trip (state hash, publish, cancel flag). At most
every ``db_interval_s`` (and at the last iteration): the row's progress columns and heartbeat,
written only while the row is still this run's, which also reads the row's cancel flag (so a
cancel holds when Redis lost its flag). Free of Keras and TensorFlow (a test holds it to that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.job_events import progress_event, round_ms
from shared.progress_channel import ProgressChannel
from worker.engine.hooks import Progress, Stop
from worker.pace import Pace
from worker.run_checks.base import RunState

log = logging.getLogger(__name__)


@dataclass
class ReportProgress:
    """Publishes each iteration and stores it at most every ``db_interval_s``; never stops the
    run itself, but sets ``state.cancel_asked`` when either source says so."""

    channel: ProgressChannel
    sessions: sessionmaker[Session]
    db_interval_s: float
    clock: Callable[[], float] = time.monotonic
    preview_every: int = 0
    preview_s: Callable[[], float] = lambda: 0.0  # what the last preview took to write
    pace: Pace = field(default_factory=Pace)
    _last_db_write: float = field(default=float("-inf"))

    def __call__(self, progress: Progress, state: RunState) -> Stop | None:
        self.pace.observe(progress)
        event = progress_event(
            progress.iteration,
            progress.total,
            progress.losses,
            self.pace.ms_per_iter,
            self.pace.eta_s(progress, self.preview_every, self.preview_s()),
            at=time.time(),
        )
        state.last_event = event
        try:
            state.cancel_asked |= self.channel.publish(str(state.job_id), event)
        except redis.RedisError:  # the live view is best effort; the DB row still advances
            log.warning("progress publish failed for job %s", state.job_id, exc_info=True)
        now = self.clock()
        if now - self._last_db_write >= self.db_interval_s or progress.iteration == progress.total:
            self._last_db_write = now
            self.flush(progress, state)
        return None

    def flush(self, progress: Progress, state: RunState) -> None:
        """Write ``progress`` to the job row; a database outage only skips this write."""
        try:
            with self.sessions() as session:
                cancel = job_store.record_progress(
                    session,
                    state.job_id,
                    state.attempt,
                    iteration=progress.iteration,
                    losses=progress.losses,
                    ms_per_iter=round_ms(self.pace.ms_per_iter),
                )
        except SQLAlchemyError as exc:
            log.warning("progress write failed for job %s (%s); going on", state.job_id, exc)
            return
        state.cancel_asked |= bool(cancel)
