"""``Prefer: wait=N`` (RFC 7240): answer when the job ends or after N seconds, whichever is first.

Waiting holds no request thread (the API serves with gevent) and no Redis connection of its
own: it listens through the process's event hub, and holds one of its key's stream slots like
an event stream does. N is capped by ``STYLIZE_MAX_WAIT_S``; a preference that is not a whole
number of seconds is ignored, as RFC 7240 asks.
"""

from __future__ import annotations

import re
import time

from flask import current_app, g, request

from api.db import get_session
from api.event_hub import CLOSING, EventHub, HubUnavailable
from api.events import hub_unavailable
from api.stream_slots import StreamSlots
from shared.db.job import Job, JobStatus

REREAD_S = 5.0  # the row is read again at least this often, should an end event be lost
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*([0-9]{1,6})(?:$|[,;\s])", re.IGNORECASE)


def preferred_wait_s() -> int | None:
    """The seconds the client prefers to wait (capped by STYLIZE_MAX_WAIT_S), or None."""
    match = _WAIT.search(",".join(request.headers.getlist("Prefer")))
    if match is None:
        return None
    return min(int(match.group(1)), current_app.config["STYLIZE"].max_wait_s)


def wait_for_end(job: Job, seconds: float) -> Job:
    """The job's row once it ended, or as it is after ``seconds``; a 429 when the key holds
    all its slots, a 503 when live events cannot be had."""
    if JobStatus(job.status).terminal or seconds <= 0:
        return job
    hub: EventHub = current_app.extensions["stylize_event_hub"]
    slots: StreamSlots = current_app.extensions["stylize_stream_slots"]
    slot = slots.take(g.owner_id, seconds)
    try:
        listener = hub.register(str(job.id))
    except HubUnavailable:
        slot.release()
        raise hub_unavailable() from None
    try:
        deadline = time.monotonic() + seconds
        job = _reread(job)  # after registering: an end from now on is not missed
        while not JobStatus(job.status).terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            arrived, event = listener.next(min(left, REREAD_S))
            if not arrived or event is None or event["type"] in ("status", "closing"):
                job = _reread(job)  # an end, a gap in the events, or a while of silence
            if event == CLOSING:  # this process stops: answer with the job as it is
                break
        return job
    finally:
        hub.unregister(str(job.id), listener)
        slot.release()


def _reread(job: Job) -> Job:
    """The job's row as it is now; the session gives its connection back (a wait holds none)."""
    session = get_session()
    session.rollback()  # a fresh transaction sees the latest commit
    fresh = session.get(Job, job.id, populate_existing=True) or job
    session.close()
    return fresh
