"""The process-wide warm engine: VGG16 loaded once per worker process, reused by every job."""

from __future__ import annotations

import logging
import threading
import time

from worker.engine import StyleEngine

log = logging.getLogger(__name__)
_lock = threading.Lock()
_engine: StyleEngine | None = None


def warm_engine() -> StyleEngine:
    """The loaded engine, loading it on first call (worker start normally does that)."""
    global _engine
    with _lock:
        if _engine is None:
            started = time.perf_counter()
            _engine = StyleEngine.load()
            log.info(
                "VGG16 loaded from %s in %.1f s",
                _engine.weights_source,
                time.perf_counter() - started,
            )
        return _engine


def preload(**_: object) -> None:
    """Signal handler: load the model as the worker (process) starts, not on the first job."""
    warm_engine()
