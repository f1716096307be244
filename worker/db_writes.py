"""The worker's database writes, retried with backoff through an outage (tenacity).

A job's result is already in storage when its row is ended, so retrying the end for a few
minutes keeps a finished result through a database restart; if the database stays away longer,
the write gives up, the heartbeat stops, and the reaper requeues the job once it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Connection lost, server down or restarting, SQLite busy: worth another try.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def write_with_retry(
    sessions: sessionmaker[Session], retry_s: float, action: Callable[[Session], T]
) -> T:
    """Run ``action`` in a fresh session, retrying transient errors for up to ``retry_s``."""
    for attempt in Retrying(
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(retry_s),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    ):
        with attempt, sessions() as session:
            return action(session)
    raise AssertionError("unreachable: tenacity re-raises the last error")
