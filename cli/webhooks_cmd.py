"""``stylize webhooks``: the Celery worker that delivers webhooks (no model, no GPU)."""

from __future__ import annotations

import logging

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
@click.option("--loglevel", default="INFO", show_default=True)
def webhooks(concurrency: int, loglevel: str) -> None:
    """Deliver webhooks from STYLIZE_WEBHOOK_QUEUE; loads no model, so it needs no GPU."""
    settings = get_settings()
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
    )
    from worker.celery_app import make_celery

    make_celery(settings).worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--queues={settings.webhook_queue}",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--hostname=webhooks@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
