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

from shared.db.session import session_factory
from shared.progress_channel import ProgressChannel
from shared.settings import Settings, get_settings
from shared.storage import Storage, open_storage
from worker.memory_budget import worker_budget_mb
from worker.metrics import record_model_load
from worker.webhook_events import WebhookSender, celery_webhook_sender

if TYPE_CHECKING:
    from worker.engine import StyleEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """The settings, session factory, storage, Redis channel and warm engine jobs run with.

    ``worker`` is the name recorded on the jobs; ``clock`` times their deadlines;
    ``webhook_sender`` queues webhook deliveries (None: this context queues none).
    """

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    channel: ProgressChannel
    engine: StyleEngine
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], float] = time.monotonic
    webhook_sender: WebhookSender | None = None


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
        engine.weights_source, engine.weights_path or "random", seconds, engine.memory_budget_mb,
    )  # fmt: skip
    return JobContext(
        settings=settings,
        sessions=session_factory(settings.database_url),
        storage=open_storage(settings),
        channel=ProgressChannel.from_url(settings.broker_url),
        engine=engine,
        webhook_sender=celery_webhook_sender(settings),
        worker=worker or f"{socket.gethostname()}:{os.getpid()}",
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
