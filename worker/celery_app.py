"""The Celery application factory with the reliability settings of DESIGN §6."""

from __future__ import annotations

from celery import Celery

from shared.broker import celery_options
from shared.settings import Settings
from shared.task_names import DELIVER_WEBHOOK_TASK, RUN_JOB_TASK


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the broker of ``settings`` with the job and webhook tasks registered.

    Late acks plus reject-on-worker-lost give at-least-once delivery; the task's
    compare-and-set on the job row turns that into exactly-once effect.
    """
    app = Celery("stylize", include=["worker.tasks", "worker.webhook_delivery"])
    app.conf.update(
        celery_options(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.gpu_queue,
        task_routes={
            RUN_JOB_TASK: {"queue": settings.gpu_queue},
            DELIVER_WEBHOOK_TASK: {"queue": settings.webhook_queue},
        },
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    return app
