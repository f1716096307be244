"""Service commands: ``up`` (the whole stack), ``api``, ``worker``, ``flower``."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from cli.gpu_claim import DEFAULT_CLAIMS_DIR, pin_gpu
from cli.net import require_flower_auth
from shared.settings import get_settings


def fresh_metrics_dir(name: str) -> Path:
    """An empty ``PROMETHEUS_MULTIPROC_DIR`` for one service, set in this process's environment.

    Emptied at every start so a restarted service never adds its predecessor's counts.
    """
    path = Path(tempfile.gettempdir()) / f"stylize-metrics-{name}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


@click.command()
@click.option("--host", default=None, help="Bind address (default STYLIZE_API_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="STYLIZE_API_PORT.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def api(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API with gunicorn; ``/metrics`` sums all its worker processes."""
    settings = get_settings()
    port = port or settings.api_port
    fresh_metrics_dir(f"api-{port}")
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_config"]
    argv += ["--bind", f"{host or settings.api_host}:{port}", "--workers", str(workers)]
    os.execvp(sys.executable, [*argv, "api:create_app()"])


def gpu_choice(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--gpu``: a GPU index or ``auto``."""
    if value is None or value == "auto" or value.isdigit():
        return value
    raise click.BadParameter("use a GPU index (0, 1, ...) or auto")


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Jobs at once; 1 per GPU. Above 1, each process loads its own model.",
)
@click.option("--queues", default=None, help="Comma-separated queues (default STYLIZE_GPU_QUEUE).")
@click.option(
    "--hostname", default="celery@%h", show_default=True, help="Node name; %h is this host."
)
@click.option(
    "--gpu", default=None, callback=gpu_choice, help="Pin to GPU INDEX, or auto: a free one."
)
@click.option(
    "--gpu-claims",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CLAIMS_DIR,
    show_default=True,
    help="Where --gpu auto keeps its per-GPU locks (shared by the host's workers).",
)
@click.option(
    "--metrics-port", type=click.IntRange(1, 65535), default=None, help="Serve /metrics here."
)
@click.option("--loglevel", default=None, help="Default STYLIZE_LOG_LEVEL.")
def worker(
    concurrency: int,
    queues: str | None,
    hostname: str,
    gpu: str | None,
    gpu_claims: Path,
    metrics_port: int | None,
    loglevel: str | None,
) -> None:
    """Run one Celery worker with a warm VGG16 model."""
    from cli import worker_start
    from shared.broker import check_visibility_timeout

    settings = get_settings()  # a bad variable fails here, before TensorFlow loads
    check_visibility_timeout(settings)
    pinned = pin_gpu(gpu, gpu_claims)
    if metrics_port is not None:
        fresh_metrics_dir(f"worker-{metrics_port}")  # before prometheus_client is imported
    nodename = worker_start.node_name(hostname)
    worker_start.quiet_celery(settings)
    worker_start.log_gpu(pinned, gpu)
    if metrics_port is not None:
        worker_start.serve_metrics(metrics_port)
    argv = worker_start.celery_argv(settings, nodename, concurrency, queues, loglevel)
    if concurrency == 1:
        # The job runs in a pool thread while the main thread keeps the broker connection,
        # event heartbeats and remote control alive; the model is built here, once.
        worker_start.load_model(nodename)
        argv.append("--pool=threads")
    else:
        worker_start.load_model_in_each_child(nodename)
    worker_start.run(settings, argv)


@click.command()
@click.option("--host", default=None, help="Bind address (default STYLIZE_FLOWER_HOST).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (STYLIZE_FLOWER_PORT)."
)
def flower(host: str | None, port: int | None) -> None:
    """Run Flower on the configured broker to watch queues and workers (login if configured)."""
    from celery import Celery

    from shared.broker import celery_options

    settings = get_settings()
    host = host or settings.flower_host
    require_flower_auth(host, settings.flower_basic_auth)
    app = Celery("stylize-flower")
    app.conf.update(celery_options(settings))
    argv = ["flower", f"--address={host}", f"--port={port or settings.flower_port}"]
    if settings.flower_basic_auth:  # in-process argv: not visible in ps
        argv.append(f"--basic-auth={settings.flower_basic_auth}")
    app.start(argv)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="API port.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Worker processes (one per GPU).",
)
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve worker metrics from this port on (one port per worker).",
)
def up(port: int | None, workers: int, no_flower: bool, metrics_port: int | None) -> None:
    """Run the whole stack on one machine: migrations, Redis if needed, API, workers, reaper,
    webhook delivery, Flower."""
    from cli.stack import StackOptions, run_stack

    run_stack(
        get_settings(),
        StackOptions(
            api_port=port, workers=workers, flower=not no_flower, metrics_port=metrics_port
        ),
    )
