"""``stylize reaper``: the loop that makes every accepted job end (``shared/reaper.py``).

A process of its own, not a thread in each worker or Celery beat: it must run when no worker
is alive (that is when it is needed most), it needs no model, and several copies are safe.
"""

from __future__ import annotations

import logging
import signal
import threading

import click

from shared.settings import get_settings


@click.command()
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@click.option("--loglevel", default="INFO", show_default=True)
def reaper(once: bool, loglevel: str) -> None:
    """Requeue jobs of dead workers, fail those out of attempts, send jobs the broker lost."""
    settings = get_settings()
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s: %(levelname)s/reaper] %(message)s"
    )
    from api.task_queue import celery_sender
    from shared.db.session import session_factory
    from shared.progress_channel import ProgressChannel
    from shared.reaper import reap

    log = logging.getLogger("stylize.reaper")
    sessions = session_factory(settings.database_url)
    send = celery_sender(settings)
    channel = ProgressChannel.from_url(settings.broker_url)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info(
        "reaper: every %.1f s; heartbeat timeout %.1f s, re-send after %.1f s",
        settings.reaper_interval_s, settings.heartbeat_timeout_s, settings.resend_after_s,
    )  # fmt: skip
    while not stop.is_set():
        try:
            report = reap(sessions, send, settings, channel=channel)
        except Exception as exc:  # database down: the next pass tries again
            log.warning("reaper pass failed: %s", exc)
        else:
            if report.requeued or report.ended or report.sent:
                log.info("requeued %d, ended %d, sent %d",
                         len(report.requeued), len(report.ended), len(report.sent))  # fmt: skip
        if once:
            return
        stop.wait(settings.reaper_interval_s)
