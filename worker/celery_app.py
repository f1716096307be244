"""The Celery application factory with the reliability settings (docs/jobs.md)."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_shutting_down

from shared.broker import celery_options
from shared.logs import bind, unbind
from shared.settings import Settings
from shared.task_names import RUN_JOB_TASK
from worker.run_checks.shutdown import request_shutdown


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the broker of ``settings`` with the job and webhook tasks registered.

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
    task_prerun.connect(bind_job_to_log_lines, weak=False, dispatch_uid="stylize-log-job")
    task_postrun.connect(unbind_job_from_log_lines, weak=False, dispatch_uid="stylize-log-job")
    return app


def bind_job_to_log_lines(task: Task, args: tuple[Any, ...], **_: Any) -> None:
    """Signal handler: every line logged while the job task runs carries its ``job_id``."""
    if task.name == RUN_JOB_TASK and args:
        task.request.log_token = bind(job_id=str(args[0]))


def unbind_job_from_log_lines(task: Task, **_: Any) -> None:
    """Signal handler: the job's fields leave the log lines once its task has ended."""
    token = getattr(task.request, "log_token", None)
    if token is not None:
        unbind(token)
