"""The broker (Redis): Celery's options for it, the check they need, and direct Redis clients.

``celery_options`` is plain data (no Celery import here): the API's task sender and the
worker's Celery app both apply it, so producer and consumer never disagree.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from shared.job_limits import longest_hard_time_limit_s
from shared.settings import ENV_PREFIX, Settings, SettingsError

SOCKET_TIMEOUT_S = 5
CONNECT_TIMEOUT_S = 3


def celery_options(settings: Settings) -> dict[str, Any]:
    """Celery configuration of the broker connection, for ``app.conf.update``."""
    return {
        "broker_url": settings.broker_url,
        "broker_connection_timeout": CONNECT_TIMEOUT_S,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout_s,
            # One connection attempt gives up after about half a second, not kombu's ~6 s, so
            # a submit with the broker down is refused at once; the worker's consumer keeps
            # reconnecting in its own loop (Celery's broker_connection_retry).
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
    }


def check_visibility_timeout(settings: Settings) -> None:
    """SettingsError unless an unacknowledged message stays hidden longer than any job may run.

    Redis hands a message to another worker once ``visibility_timeout_s`` has passed; the
    largest job the parameter ranges allow must be able to reach its hard time limit first.
    """
    needed = int(longest_hard_time_limit_s()) + 1
    if settings.visibility_timeout_s < needed:
        raise SettingsError(
            f"{ENV_PREFIX}VISIBILITY_TIMEOUT_S={settings.visibility_timeout_s} is shorter than "
            f"the hard time limit of the largest job ({needed} s); set it to at least {needed}"
        )


def broker_queues(settings: Settings) -> list[str]:
    """Every Celery queue of the service (each is a Redis list named after it)."""
    return [settings.gpu_queue]


def queue_depths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each of ``queues`` (``LLEN`` of its list), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
    return dict(zip(queues, pipe.execute(), strict=True))


def redis_retry() -> Retry:
    """One quick retry of a failed Redis command: redis-py's default (three, backing off up to
    10 s) made each request wait about 20 s while Redis was down, where a fast error is what
    the callers handle (a 503, polling instead, a warning)."""
    return Retry(ExponentialBackoff(cap=0.2, base=0.05), 1)


def redis_client(url: str) -> redis.Redis:
    """A Redis client for ``url`` with the service's one set of timeouts and retries."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        retry=redis_retry(),
    )
