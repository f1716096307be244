"""``stylize webhooks``: the Celery worker that delivers webhooks (no model, no GPU)."""

from __future__ import annotations

import click

from shared.settings import get_settings


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Deliveries at once (threads: they mostly wait on the network).",
)
@click.option("--loglevel", default=None, help="Log level (default STYLIZE_LOG_LEVEL).")
def webhooks(concurrency: int, loglevel: str | None) -> None:
    """Deliver webhooks from STYLIZE_WEBHOOK_QUEUE; loads no model, so it needs no GPU."""
    from cli import worker_start

    settings = get_settings()
    worker_start.quiet_celery(settings)
    nodename = worker_start.node_name("webhooks@%h")
    argv = worker_start.celery_argv(
        settings, nodename, concurrency, settings.webhook_queue, loglevel
    )
    worker_start.run(settings, [*argv, "--pool=threads"])
