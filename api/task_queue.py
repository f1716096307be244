"""Sending the job task to the broker (API and reaper): names the task, never imports worker/."""

from __future__ import annotations

from celery import Celery

from shared.broker import celery_options
from shared.job_limits import hard_time_limit_s
from shared.params import JobParams
from shared.settings import Settings
from shared.task_names import RUN_JOB_TASK, TaskSender


def celery_sender(settings: Settings) -> TaskSender:
    """A sender that publishes ``RUN_JOB_TASK(job_id, attempt)`` to the GPU queue.

    Only the hard time limit travels with the message, as a backstop for pools that enforce
    it (prefork); the soft limit is the worker's own deadline, which every pool applies.
    """
    client = Celery("stylize-api")
    client.conf.update(celery_options(settings))

    def send(job_id: str, attempt: int, params: JobParams) -> None:
        client.send_task(
            RUN_JOB_TASK,
            args=[job_id, attempt],
            queue=settings.gpu_queue,
            time_limit=hard_time_limit_s(params),
            retry=False,
        )

    return send
