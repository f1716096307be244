"""The Celery application factory with the reliability settings of DESIGN §6."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_shutting_down

from shared.broker import celery_options
from shared.settings import Settings
from shared.task_names import RUN_JOB_TASK
from worker.shutdown import request_shutdown


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the broker of ``settings`` with the job task registered.

    Late acks plus reject-on-worker-lost give at-least-once delivery; the task's
    compare-and-set on the job row turns that into exactly-once effect. A warm shutdown
    (SIGTERM, Ctrl-C) sets the flag that makes a running job finish or hand itself back.
    """
    worker_shutting_down.connect(request_shutdown, weak=False)
    app = Celery("stylize", include=["worker.tasks"])
    app.conf.update(
        celery_options(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.gpu_queue,
        task_routes={RUN_JOB_TASK: {"queue": settings.gpu_queue}},
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    return app
