"""Server-Sent Events: a job's status and progress as they happen, closing after the end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response, current_app
from sqlalchemy.orm import Session, sessionmaker

from api.auth import protect
from api.db import api_sessions
from api.errors import ApiProblem
from api.jobs import load_job
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.job_events import status_event
from shared.progress_channel import ProgressChannel, Subscription

bp = Blueprint("events", __name__, url_prefix="/v1/jobs")
protect(bp)
KEEPALIVE_S = 10.0


@bp.get("/<job_id>/events")
def events(job_id: str) -> Response:
    """``event: status|progress|preview`` with JSON data; ends after a terminal status."""
    job = load_job(job_id)
    channel: ProgressChannel = current_app.extensions["stylize_channel"]
    try:
        subscription = channel.subscribe(str(job.id))  # before reading state: nothing is missed
    except redis.RedisError:
        raise ApiProblem(
            503,
            "Service Unavailable",
            "live events are unavailable (Redis does not answer); poll the job instead",
            headers={"Retry-After": "5"},
        ) from None
    stream = job_events(
        job.id,
        channel,
        subscription,
        api_sessions(current_app.config["STYLIZE"]),
    )
    response = Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(subscription.close)
    return response


def job_events(
    job_id: uuid.UUID,
    channel: ProgressChannel,
    subscription: Subscription,
    sessions: sessionmaker[Session],
) -> Iterator[str]:
    """With ``subscription`` already open: the current state, then each event until the end.

    Progress never goes backwards: progress events that the subscription buffered while the
    current state was read, and are not past it, are dropped.
    """
    counter = 0
    shown_iteration = -1

    def frame(event: dict[str, Any]) -> str:
        nonlocal counter
        counter += 1
        return f"id: {counter}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"

    def current_row() -> Job:
        with sessions() as session:
            job = job_store.get_job(session, job_id)
            assert job is not None  # jobs are never deleted while a stream is open
            return job

    job = current_row()
    terminal = JobStatus(job.status).terminal
    latest = None if terminal else channel.latest(str(job_id))  # one snapshot with the row
    yield frame(status_event(job.status, job.error_code, job.error_message))
    if terminal:
        return
    if latest:
        shown_iteration = latest["iteration"]
        yield frame(latest)
    while True:
        event = subscription.next_event(KEEPALIVE_S)
        if event is None:
            job = current_row()
            if JobStatus(job.status).terminal:  # a missed end event: the row still tells
                yield frame(status_event(job.status, job.error_code, job.error_message))
                return
            yield ": keepalive\n\n"
            continue
        if event["type"] == "progress":
            if event["iteration"] <= shown_iteration:
                continue
            shown_iteration = event["iteration"]
        yield frame(event)
        if event["type"] == "status" and JobStatus(event["status"]).terminal:
            return
