"""The live, lossy progress view in Redis: a hash per job, a pub/sub channel, a cancel flag.

The API listens to every job's channel through one subscription per process (api/event_hub.py).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from shared.broker import redis_client

HASH_TTL_S = 7 * 24 * 3600


def state_key(job_id: str) -> str:
    """Redis hash holding the job's latest progress."""
    return f"stylize:job:{job_id}"


EVENTS_PREFIX = "stylize:events:"
EVENTS_PATTERN = EVENTS_PREFIX + "*"  # every job's channel


def events_channel(job_id: str) -> str:
    """Pub/sub channel carrying the job's events."""
    return EVENTS_PREFIX + job_id


def job_of_channel(channel: bytes | str) -> str:
    """The job id an events channel is named after."""
    name = channel.decode() if isinstance(channel, bytes) else channel
    return name.removeprefix(EVENTS_PREFIX)


def cancel_key(job_id: str) -> str:
    """Key whose existence asks the running job to stop."""
    return f"stylize:cancel:{job_id}"


class ProgressChannel:
    """Publishes and reads per-job events. Events are dicts with a ``type`` field."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> ProgressChannel:
        """A channel on the Redis at ``url``."""
        return cls(redis_client(url))

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        """Store ``event`` as the job's latest state and publish it.

        Returns True when a cancel has been requested for the job (one round trip for both).
        """
        payload = json.dumps(event, separators=(",", ":"))
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(state_key(job_id), mapping={"event": payload, event["type"]: payload})
        pipe.expire(state_key(job_id), HASH_TTL_S)
        pipe.publish(events_channel(job_id), payload)
        pipe.exists(cancel_key(job_id))
        return bool(pipe.execute()[-1])

    def latest(self, job_id: str, event_type: str = "progress") -> dict[str, Any] | None:
        """The most recent event of ``event_type`` for the job, or None."""
        raw = self._redis.hget(state_key(job_id), event_type)
        return json.loads(raw) if raw else None

    def request_cancel(self, job_id: str) -> None:
        """Ask a running job to stop at its next iteration."""
        self._redis.set(cancel_key(job_id), 1, ex=HASH_TTL_S)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether a cancel has been asked for."""
        return bool(self._redis.exists(cancel_key(job_id)))

    def ping(self) -> bool:
        """True when Redis answers."""
        return bool(self._redis.ping())
