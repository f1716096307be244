"""The steps of ``stylize worker`` after its settings are checked, each small and named.

Imports Celery and the worker package only when called: ``stylize worker`` must pin its GPU
and set the metrics directory before TensorFlow or prometheus_client load.
"""

from __future__ import annotations

import logging
import sys
import warnings

import click

from shared.logs import wants_json
from shared.settings import Settings

log = logging.getLogger("stylize.worker")


def node_name(hostname: str) -> str:
    """Celery's node name for ``--hostname`` (``%h`` is this host), as Flower and jobs show it."""
    from celery.utils.nodenames import default_nodename, host_format

    return host_format(default_nodename(hostname))


def quiet_celery(settings: Settings) -> None:
    """Celery logs through ``shared.logs``: no logging setup, banner or prints of its own.

    Its warning about running as root is dropped: it concerns pickle, and the service
    accepts JSON messages alone.
    """
    import celery.apps.worker
    from celery.exceptions import SecurityWarning
    from celery.signals import setup_logging

    warnings.filterwarnings("ignore", category=SecurityWarning)
    setup_logging.connect(lambda **_: None, weak=False)  # shared.logs configured logging
    if wants_json(settings.log_format, sys.stderr):
        notes = logging.getLogger("celery.apps.worker")
        celery.apps.worker.safe_say = lambda message, *_: notes.info(message.strip())


def log_gpu(pinned: str | None, choice: str | None) -> None:
    """Say which GPU the process uses, or that ``--gpu auto`` found none."""
    if pinned:
        log.info("pinned to %s (CUDA_VISIBLE_DEVICES)", pinned)
    elif choice == "auto":
        log.info("--gpu auto: no NVIDIA GPU on this host; running on the CPU")


def serve_metrics(port: int) -> None:
    """Serve the worker's metrics on ``port``; a port in use is one line."""
    from worker import metrics

    try:
        metrics.serve(port)
    except OSError as exc:
        raise click.ClickException(f"--metrics-port {port}: {exc.strerror}") from None
    log.info("metrics on http://0.0.0.0:%d/metrics", port)


def celery_argv(
    settings: Settings, nodename: str, concurrency: int, queues: str | None, loglevel: str | None
) -> list[str]:
    """Celery's command line for the worker (without the pool, which depends on concurrency)."""
    quiet = ["--quiet"] if wants_json(settings.log_format, sys.stderr) else []  # no banner
    return [
        *quiet,
        "worker",
        f"--loglevel={loglevel or settings.log_level}",
        f"--queues={queues or settings.gpu_queue}",
        f"--concurrency={concurrency}",
        f"--hostname={nodename}",
        "--without-gossip",
        "--without-mingle",
    ]


def load_model(nodename: str) -> None:
    """Build this process's job context (VGG16 included) without the backend's start-up noise."""
    from worker.backend_import import backend_noise_dropped
    from worker.job_context import preload

    with backend_noise_dropped():
        preload(worker=nodename)


def load_model_in_each_child(nodename: str) -> None:
    """Prefork: each child builds its own context as it starts (TensorFlow is not fork-safe)."""
    from celery.signals import worker_process_init

    worker_process_init.connect(lambda **_: load_model(nodename), weak=False)


def run(settings: Settings, argv: list[str]) -> None:
    """Run the Celery worker with ``argv`` until it shuts down."""
    from worker.celery_app import make_celery

    make_celery(settings).worker_main(argv)
