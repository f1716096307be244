"""``stylize webhooks``: send the webhook outbox's deliveries (no model, no GPU)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from cli import liveness
from shared.settings import get_settings

ALIVE_MAX_AGE_S = 60.0


@click.command()
@click.option(
    "--alive-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=liveness.default_path("webhooks"),
    show_default=True,
    help="Touched after every pass (what --check reads).",
)
@click.option("--check", is_flag=True, help="Exit 0 if a running sender is alive, else 1.")
def webhooks(alive_file: Path, check: bool) -> None:
    """Deliver due webhooks from the outbox, retrying with backoff; SIGTERM lets the attempts
    in flight finish (each is bounded by STYLIZE_WEBHOOK_DEADLINE_S)."""
    if check:
        liveness.check(alive_file, ALIVE_MAX_AGE_S, "webhooks")
    from shared.db.session import session_factory
    from shared.webhooks.sender import Sender

    settings = get_settings()
    log = logging.getLogger("stylize.webhooks")
    sender = Sender(
        session_factory(settings.database_url),
        settings.webhook_allow_list(),
        threads=settings.webhook_threads,
        per_key=settings.webhook_per_key,
        deadline_s=settings.webhook_deadline_s,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info(
        "webhooks: %d at once, %d per key, %.0f s per attempt",
        settings.webhook_threads,
        settings.webhook_per_key,
        settings.webhook_deadline_s,
    )
    try:
        sender.run(stop, beat=lambda: liveness.touch(alive_file))
    finally:
        sender.close()
        alive_file.unlink(missing_ok=True)
