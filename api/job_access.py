"""Which job a request may see or change: its own key's (an admin key reads them all)."""

from __future__ import annotations

import uuid

from flask import g

from api.db import get_session
from api.errors import ApiProblem
from shared.db import job_store
from shared.db.job import Job


def load_job(job_id: str, *, to_change: bool = False) -> Job:
    """The caller's job, or 404 (also for another key's job, and for a deleted one).

    An admin key reads every key's jobs; only the owner may change one (``to_change``).
    """
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise ApiProblem(404, "Not Found", f"no job {job_id!r}; job ids are UUIDs") from None
    owner = None if g.api_key.is_admin and not to_change else g.owner_id
    job = job_store.get_job(get_session(), parsed, owner_id=owner)
    if job is None or job.deleted_at is not None:
        raise ApiProblem(404, "Not Found", f"no job {job_id} for this key")
    return job
