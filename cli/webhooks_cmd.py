"""``stylize webhooks``: send the webhook outbox's deliveries (no model, no GPU)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cli import liveness
from shared.settings import get_settings

ALIVE_MAX_AGE_S = 60.0


@click.command()
@liveness.options("webhooks", "Exit 0 if a running sender is alive, else 1.")
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
    stop = liveness.stop_on_signals()
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
