"""gunicorn's configuration for ``stylize api`` (``-c python:api.gunicorn_config``).

Logs go through ``shared.logs`` (the access log too, with the request id); a worker that
exits is marked dead for the multiprocess metrics in ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import signal
from typing import Any

from prometheus_client import multiprocess

from shared.settings import get_settings

_settings = get_settings()

# gevent: an open event stream or Prefer: wait holds a greenlet, never an OS thread, so
# hundreds of them leave polls answering at once (CPU-bound decoding goes to real threads:
# api/offload.py).
worker_class = "gevent"
worker_connections = _settings.api_connections
timeout = 30
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _settings.log_level, "handlers": ["stylize"]},
    "loggers": {
        "gunicorn.error": {"level": _settings.log_level, "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
    "handlers": {"stylize": {"()": "shared.logs.make_handler", "log_format": _settings.log_format}},
    "formatters": {},
}


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: on SIGTERM the worker stops accepting, and its open event streams and
    waits answer at once (streams ask their clients to reconnect), so that a stop takes a
    moment instead of the graceful timeout. (Imported here, in the patched worker: importing
    Redis's client in the master would import ssl before gevent patches it.)"""
    import gevent

    from api.event_hub import close_streams

    stop = worker.handle_exit

    def stop_and_close_streams(signum: int, frame: Any) -> None:
        stop(signum, frame)
        gevent.spawn(close_streams)

    signal.signal(signal.SIGTERM, stop_and_close_streams)


def child_exit(_server: object, worker: Any) -> None:
    """gunicorn hook: forget the live gauges of a worker process that exited."""
    multiprocess.mark_process_dead(worker.pid)


control_socket_disable = True  # one fixed path per host would be shared by every instance
