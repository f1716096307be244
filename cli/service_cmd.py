"""Service commands: ``up`` (the whole stack), ``api``, ``worker``, ``flower``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import click

from shared.settings import get_settings


@click.command()
@click.option("--host", default=None, help="Bind address (default STYLIZE_API_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="STYLIZE_API_PORT.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def api(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API with gunicorn (threads keep SSE streams cheap)."""
    settings = get_settings()
    bind = f"{host or settings.api_host}:{port or settings.api_port}"
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "16",
            "--timeout",
            "0",
            "--access-logfile",
            "-",
            "api:create_app()",
        ],
    )


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Jobs at once; 1 per GPU. Above 1, each process loads its own model.",
)
@click.option("--queues", default=None, help="Comma-separated queues (default STYLIZE_GPU_QUEUE).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int, queues: str | None, loglevel: str) -> None:
    """Run one Celery worker with a warm VGG16 model."""
    from shared.broker import check_visibility_timeout

    settings = get_settings()  # a bad variable fails here, before TensorFlow loads
    check_visibility_timeout(settings)
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
    )
    from celery.signals import worker_process_init

    from worker.celery_app import make_celery
    from worker.job_context import preload

    app = make_celery(settings)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--queues={queues or settings.gpu_queue}",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency == 1:
        preload()  # the solo pool runs jobs in this process: build its context before consuming
        argv.append("--pool=solo")
    else:
        worker_process_init.connect(preload, weak=False)
    app.worker_main(argv)


@click.command()
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (STYLIZE_FLOWER_PORT)."
)
def flower(port: int | None) -> None:
    """Run Flower on the configured broker to watch queues and workers."""
    settings = get_settings()
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "celery",
            "--broker",
            settings.broker_url,
            "flower",
            f"--port={port or settings.flower_port}",
            "--address=127.0.0.1",
        ],
    )


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
def up(port: int | None, workers: int, no_flower: bool) -> None:
    """Run the whole stack on one machine: migrations, Redis if needed, API, workers, reaper,
    Flower."""
    from cli.embedded_redis import ensure_broker
    from migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    env = dict(os.environ)
    broker_url, redis_process = ensure_broker(settings.broker_url)
    env["STYLIZE_BROKER_URL"] = broker_url
    stylize = [sys.executable, "-m", "cli"]
    commands = [[*stylize, "api", "--port", str(port or settings.api_port)]]
    commands += [[*stylize, "worker"] for _ in range(workers)]
    commands.append([*stylize, "reaper"])
    if not no_flower:
        commands.append([*stylize, "flower"])
    children = [subprocess.Popen(command, env=env) for command in commands]
    if redis_process is not None:
        children.append(redis_process)
    click.echo(
        f"stylize: API on http://{settings.api_host}:{port or settings.api_port} "
        f"(broker {broker_url}); Ctrl-C stops everything",
        err=True,
    )
    supervise(children, grace_s=settings.worker_shutdown_s + 10)


def supervise(children: list[subprocess.Popen[bytes]], grace_s: float = 20) -> None:
    """Wait until a signal arrives or a child exits, then stop every child cleanly."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s  # a worker may finish its job or hand it back
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    failed = [child.args for child in children if child.returncode not in (0, -15, None)]
    if failed and not stopping:
        raise click.ClickException(f"a service exited unexpectedly: {failed[0]}")
