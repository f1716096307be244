"""Each worker's memory budget, advertised in Redis, so the API can refuse a job none can run.

A worker writes ``<its budget MB>:<until>`` under its name in one hash every
``REFRESH_S`` (a daemon thread of the worker process); an entry not refreshed for ``TTL_S`` is
ignored and then pruned. ``largest_budget`` is what the API admits against.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)
BUDGETS_KEY = "stylize:worker-budgets"
REFRESH_S = 20.0
TTL_S = 3 * REFRESH_S


def advertise(client: redis.Redis, worker: str, budget_mb: float, now: float | None = None) -> None:
    """Record ``worker``'s budget, valid for TTL_S."""
    until = (time.time() if now is None else now) + TTL_S
    client.hset(BUDGETS_KEY, worker, f"{budget_mb:.0f}:{until:.0f}")


def withdraw(client: redis.Redis, worker: str) -> None:
    """Remove ``worker``'s entry (it is stopping)."""
    client.hdel(BUDGETS_KEY, worker)


def largest_budget(client: redis.Redis, now: float | None = None) -> float | None:
    """The largest budget a live worker advertises, MB; None when no worker does."""
    now = time.time() if now is None else now
    live, lapsed = [], []
    for worker, entry in client.hgetall(BUDGETS_KEY).items():
        budget, _, until = entry.decode().partition(":")
        (live if float(until) >= now else lapsed).append((worker, float(budget)))
    if lapsed:
        client.hdel(BUDGETS_KEY, *(worker for worker, _ in lapsed))
    return max((budget for _, budget in live), default=None)


def keep_advertising(client: redis.Redis, worker: str, budget_mb: float) -> threading.Thread:
    """A daemon thread that advertises ``worker``'s budget every REFRESH_S (a Redis outage
    only skips a beat)."""

    def beat() -> None:
        while True:
            try:
                advertise(client, worker, budget_mb)
            except redis.RedisError as exc:
                log.warning("could not advertise the memory budget: %s", exc)
            time.sleep(REFRESH_S)

    thread = threading.Thread(target=beat, name="budget-advert", daemon=True)
    thread.start()
    return thread
