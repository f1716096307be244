"""Sending the job task to the broker: the API names the task, it never imports worker/."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from shared.job_limits import hard_time_limit_s, soft_time_limit_s
from shared.params import JobParams
from shared.settings import Settings
from shared.task_names import RUN_JOB_TASK

TaskSender = Callable[[str, JobParams], None]


def celery_sender(settings: Settings) -> TaskSender:
    """A sender that publishes ``RUN_JOB_TASK(job_id)`` to the GPU queue with size-based limits."""
    client = Celery("stylize-api", broker=settings.broker_url)
    client.conf.broker_transport_options = {
        "visibility_timeout": settings.visibility_timeout_s,
        # A dead broker fails a submit in about half a second (kombu's default is ~6 s).
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    }
    client.conf.broker_connection_timeout = 3

    def send(job_id: str, params: JobParams) -> None:
        client.send_task(
            RUN_JOB_TASK,
            args=[job_id],
            queue=settings.gpu_queue,
            soft_time_limit=soft_time_limit_s(params),
            time_limit=hard_time_limit_s(params),
            retry=False,
        )

    return send
