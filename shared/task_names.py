"""Names and the message shape that the API and reaper (producers) and the worker agree on."""

from __future__ import annotations

from typing import Protocol

from shared.params import JobParams

RUN_JOB_TASK = "stylize.run_job"


class TaskSender(Protocol):
    """Sends ``RUN_JOB_TASK(job_id, attempt)``: run ``attempt`` (1-based) of the job."""

    def __call__(self, job_id: str, attempt: int, params: JobParams) -> None: ...
