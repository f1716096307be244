"""What every job of a worker process shares, built once as the process starts."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.db.session import session_factory
from shared.progress_channel import ProgressChannel
from shared.settings import Settings, get_settings
from shared.storage import Storage, open_storage
from shared.worker_budgets import keep_advertising
from worker.memory_budget import worker_budget_mb
from worker.metrics import record_model_load

if TYPE_CHECKING:
    from worker.engine import StyleEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """The settings, session factory, storage, Redis channel and warm engine jobs run with.

    ``worker`` is the name recorded on the jobs; ``clock`` times their deadlines.
    """

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    channel: ProgressChannel
    engine: StyleEngine
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], float] = time.monotonic


def load_context(worker: str | None = None) -> JobContext:
    """Open the configured database, storage and Redis, and load VGG16 (logged).

    ``worker`` is the name recorded on the jobs (default: this host's name).
    """
    from worker.engine import StyleEngine

    settings = get_settings()
    started = time.perf_counter()
    engine = StyleEngine.load()
    engine.memory_budget_mb = worker_budget_mb(settings)
    engine.warm_up()  # the default job's step, shape-generic: a job's first preview comes fast
    seconds = time.perf_counter() - started
    record_model_load(seconds)
    log.info(
        "VGG16 loaded from %s (%s) and its default step traced in %.1f s; memory budget per "
        "job %d MB",
        engine.weights_source,
        engine.weights_path or "random",
        seconds,
        engine.memory_budget_mb,
    )
    name = worker or f"{socket.gethostname()}:{os.getpid()}"
    keep_advertising(redis_client(settings.broker_url), name, engine.memory_budget_mb)
    return JobContext(
        settings=settings,
        sessions=session_factory(settings.database_url),
        storage=open_storage(settings),
        channel=ProgressChannel.from_url(settings.broker_url),
        engine=engine,
        worker=name,
    )


_lock = threading.Lock()
_context: JobContext | None = None


def process_context(worker: str | None = None) -> JobContext:
    """This process's context, built on the first call (the worker's start makes that call)."""
    global _context
    with _lock:
        if _context is None:
            _context = load_context(worker)
        return _context


def preload(worker: str | None = None) -> None:
    """Build the context as the worker (process) starts, not on the first job."""
    process_context(worker)
