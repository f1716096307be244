"""``stylize reaper``: the loop that makes every accepted job end (``shared/reaper.py``), and
removes what deletions and retention say must go (``shared/job_objects.py``).

A process of its own, not a thread in each worker or Celery beat: it must run when no worker
is alive (that is when it is needed most), it needs no model, and several copies are safe.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import click

from cli import liveness
from shared.settings import get_settings


@click.command()
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@liveness.options("reaper", "Exit 0 if a running reaper is alive, else 1.")
def reaper(once: bool, alive_file: Path, check: bool) -> None:
    """Requeue jobs of dead workers, fail those out of attempts or time, send jobs the broker
    lost; remove deleted jobs' images and those past retention."""
    settings = get_settings()
    if check:
        liveness.check(alive_file, max(60.0, 3 * settings.reaper_interval_s), "reaper")
    from api.task_queue import celery_sender
    from shared.db.base import utcnow
    from shared.db.session import session_factory
    from shared.job_objects import sweep
    from shared.progress_channel import ProgressChannel
    from shared.reaper import reap
    from shared.storage import open_storage

    log = logging.getLogger("stylize.reaper")
    sessions = session_factory(settings.database_url)
    send = celery_sender(settings)
    channel = ProgressChannel.from_url(settings.broker_url)
    storage = open_storage(settings)
    stop = liveness.stop_on_signals()
    log.info(
        "reaper: every %.1f s; heartbeat timeout %.1f s, re-send after %.1f s",
        settings.reaper_interval_s,
        settings.heartbeat_timeout_s,
        settings.resend_after_s,
    )
    while not stop.is_set():
        try:
            report = reap(sessions, send, settings, channel=channel)
            if report.requeued or report.ended or report.sent:
                log.info(
                    "requeued %d, ended %d, sent %d",
                    len(report.requeued),
                    len(report.ended),
                    len(report.sent),
                )
            with sessions() as session:
                swept = sweep(
                    session,
                    storage,
                    utcnow(),
                    timedelta(seconds=settings.retain_inputs_s),
                    timedelta(seconds=settings.retain_results_s),
                )
            if swept.inputs or swept.outputs:
                log.info(
                    "removed the inputs of %d jobs, the results of %d; %d deleted rows",
                    len(swept.inputs),
                    len(swept.outputs),
                    swept.rows,
                )
        except Exception as exc:  # database or storage down: the next pass tries again
            log.warning("reaper pass failed: %s", exc)
        liveness.touch(alive_file)
        if once:
            return
        stop.wait(settings.reaper_interval_s)
