"""Server-Sent Events: a job's status and progress as they happen, closing after the end.

An open stream holds no request thread (the API serves with gevent) and no Redis connection
of its own (api/event_hub.py), but it does hold one of its key's and of this process's stream
slots (api/stream_slots.py). A stream lasts at most ``STYLIZE_EVENTS_MAX_S``; then it asks the
client to reconnect, and ``Last-Event-ID`` (the iteration the client has seen) resumes it
without repeating progress. When the process stops, a stream asks its client to reconnect at
once (to another process).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from api.auth import protect
from api.db import api_sessions
from api.errors import ApiProblem
from api.event_hub import CLOSING, EventHub, HubUnavailable, Listener
from api.job_access import load_job
from api.stream_slots import Slot, StreamSlots
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.job_document import job_document
from shared.progress_channel import ProgressChannel

bp = Blueprint("events", __name__, url_prefix="/v1/jobs")
protect(bp)
KEEPALIVE_S = 15.0
RECONNECT_MS = 1000


def _hub() -> EventHub:
    return current_app.extensions["stylize_event_hub"]


def _slots() -> StreamSlots:
    return current_app.extensions["stylize_stream_slots"]


def hub_unavailable() -> ApiProblem:
    """The 503 of a stream or wait when live events cannot be had."""
    return ApiProblem(
        503,
        "Service Unavailable",
        "live events are unavailable (Redis does not answer); poll the job instead",
        headers={"Retry-After": "5"},
    )


def last_event_id() -> int:
    """The iteration a reconnecting client has already seen (``Last-Event-ID``), else -1."""
    raw = request.headers.get("Last-Event-ID", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1


@bp.get("/<job_id>/events")
def events(job_id: str) -> Response:
    """``event: status`` (the job document), ``progress``, ``preview``; ends after the end."""
    job = load_job(job_id)
    settings = current_app.config["STYLIZE"]
    hub = _hub()
    slot = _slots().take(g.owner_id, settings.events_max_s)
    try:
        listener = hub.register(str(job.id))
    except HubUnavailable:
        slot.release()
        raise hub_unavailable() from None
    stream = job_events(
        job.id,
        listener,
        current_app.extensions["stylize_channel"],
        api_sessions(settings),
        seen=last_event_id(),
        lasts_s=settings.events_max_s,
    )
    response = Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(lambda: _close(hub, job.id, listener, slot))
    return response


def _close(hub: EventHub, job_id: uuid.UUID, listener: Listener, slot: Slot) -> None:
    hub.unregister(str(job_id), listener)
    slot.release()


def frame(kind: str, data: str, iteration: int) -> str:
    """One SSE event; its id is the iteration it shows (``Last-Event-ID`` resumes from it)."""
    return f"id: {iteration}\nevent: {kind}\ndata: {data}\n\n"


def job_events(
    job_id: uuid.UUID,
    listener: Listener,
    channel: ProgressChannel,
    sessions: sessionmaker[Session],
    *,
    seen: int = -1,
    lasts_s: float = 300.0,
) -> Iterator[str]:
    """With ``listener`` already registered: the current state, then each event until the end
    or until ``lasts_s`` passed or the process stops (then a reconnect is asked for).

    Progress never goes backwards and is not repeated: progress events not past the iteration
    already shown (or ``seen`` by a reconnecting client) are dropped.
    """
    ends_at = time.monotonic() + lasts_s

    def current_row() -> Job | None:
        with sessions() as session:
            return job_store.get_job(session, job_id)

    def status_frame(job: Job) -> str:
        iteration = max(shown, job.iteration)
        return frame(
            "status", job_document(job, channel.latest(str(job_id))).dump_json(), iteration
        )

    job = current_row()
    if job is None:  # deleted meanwhile
        return
    shown = seen
    yield status_frame(job)
    if JobStatus(job.status).terminal:
        return
    latest = channel.latest(str(job_id))
    if latest and latest["iteration"] > shown:
        shown = latest["iteration"]
        yield frame("progress", _progress_data(latest), shown)
    while (left := ends_at - time.monotonic()) > 0:
        arrived, event = listener.next(min(KEEPALIVE_S, left))
        if event == CLOSING:  # this process stops: the client reconnects to another
            break
        if not arrived or event is None:  # silence, or the hub may have missed events
            job = current_row()
            if job is None or JobStatus(job.status).terminal:
                if job is not None:
                    yield status_frame(job)
                return
            if not arrived:
                yield ": keepalive\n\n"
            continue
        if event["type"] == "progress":
            if event["iteration"] <= shown:
                continue
            shown = event["iteration"]
            yield frame("progress", _progress_data(event), shown)
        elif event["type"] == "preview":
            yield frame("preview", json.dumps({"iteration": event["iteration"]}), shown)
        elif event["type"] == "status":
            job = current_row()
            if job is None:
                return
            yield status_frame(job)
            if JobStatus(job.status).terminal:
                return
    yield f"retry: {RECONNECT_MS}\n: reconnect with Last-Event-ID to go on\n\n"


def _progress_data(event: dict[str, Any]) -> str:
    """A progress event's data: the job document's progress fields (and when they held)."""
    return json.dumps({key: value for key, value in event.items() if key != "type"})
