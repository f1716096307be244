"""Server-Sent Events: a job's status and progress as they happen, closing after the end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from sqlalchemy.orm import Session, sessionmaker

from api.auth import protect
from api.job_views import status_event
from api.jobs import load_job
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.progress_channel import ProgressChannel

bp = Blueprint("events", __name__, url_prefix="/v1/jobs")
protect(bp)
KEEPALIVE_S = 10.0


@bp.get("/<job_id>/events")
def events(job_id: str) -> Response:
    """``event: status|progress|preview`` with JSON data; ends after a terminal status."""
    job = load_job(job_id)
    stream = job_events(
        job.id,
        current_app.extensions["stylize_channel"],
        session_factory(current_app.config["STYLIZE"].database_url),
    )
    return Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def job_events(
    job_id: uuid.UUID, channel: ProgressChannel, sessions: sessionmaker[Session]
) -> Iterator[str]:
    """Subscribe first, then send the current state, then each event until the end."""
    subscription = channel.subscribe(str(job_id))
    counter = 0

    def frame(event: dict[str, Any]) -> str:
        nonlocal counter
        counter += 1
        return f"id: {counter}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"

    def current_row() -> Job:
        with sessions() as session:
            job = job_store.get_job(session, job_id)
            assert job is not None  # jobs are never deleted while a stream is open
            return job

    try:
        job = current_row()
        latest = None if JobStatus(job.status).terminal else channel.latest(str(job_id))
        yield frame(status_event(job))
        if JobStatus(job.status).terminal:
            return
        if latest:
            yield frame(latest)
        while True:
            event = subscription.next_event(KEEPALIVE_S)
            if event is None:
                job = current_row()
                if JobStatus(job.status).terminal:  # the end was published before we listened
                    yield frame(status_event(job))
                    return
                yield ": keepalive\n\n"
                continue
            yield frame(event)
            if event["type"] == "status" and JobStatus(event["status"]).terminal:
                return
    finally:
        subscription.close()
