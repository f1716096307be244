"""A running job's heartbeat from a thread, so a slow iteration (or tracing) never looks dead."""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store

log = logging.getLogger(__name__)
BEATS_PER_TIMEOUT = 4


class Heartbeat:
    """Refreshes ``heartbeat_at`` of one run every ``interval_s`` while the run lasts.

    ``lost`` is set once the row is no longer this run's (the reaper requeued or ended it):
    the run must stop and write nothing more (run_checks/lost_claim.py). A failed write
    (database down) is logged and tried again at the next beat.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_id: uuid.UUID,
        attempt: int,
        interval_s: float,
        lost: threading.Event,
    ) -> None:
        self.sessions, self.job_id, self.attempt = sessions, job_id, attempt
        self.interval_s = interval_s
        self.lost = lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    @classmethod
    def for_timeout(
        cls,
        sessions: sessionmaker[Session],
        job_id: uuid.UUID,
        attempt: int,
        timeout_s: float,
        lost: threading.Event,
    ) -> Heartbeat:
        """A heartbeat that beats several times within the reaper's ``timeout_s``."""
        return cls(sessions, job_id, attempt, timeout_s / BEATS_PER_TIMEOUT, lost)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with self.sessions() as session:
                    mine = job_store.beat(session, self.job_id, self.attempt)
            except SQLAlchemyError as exc:
                log.warning("heartbeat of job %s failed (%s); trying again", self.job_id, exc)
                continue
            if not mine:
                log.warning(
                    "job %s attempt %d is no longer this worker's; stopping it",
                    self.job_id,
                    self.attempt,
                )
                self.lost.set()
                return
