"""Requests per minute per API key, with the ``limits`` library's sliding-window counter.

A fixed window lets a key send its whole allowance at the end of one minute and again at the
start of the next: twice its rate. The sliding-window counter weighs the previous window's
count by how much of it still overlaps the last minute, so no 60 s span holds much more than
the limit, at two small Redis counters per key (``limits`` runs it as one Lua script).
"""

from __future__ import annotations

import math
import time
import uuid

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from shared.broker import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S, redis_retry

NAMESPACE = "stylize-rate"


class KeyRateLimiter:
    """``allow(key, limit)``: whether one more request of ``key`` fits in ``limit`` per window."""

    def __init__(self, redis_url: str, window_s: int = 60) -> None:
        self.window_s = window_s
        storage = storage_from_string(
            redis_url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            retry=redis_retry(),
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    def allow(self, key: uuid.UUID, limit: int) -> bool:
        """Count one request of ``key``; False when that would pass ``limit`` per window."""
        return self._limiter.hit(self._item(limit), NAMESPACE, str(key))

    def retry_after_s(self, key: uuid.UUID, limit: int) -> int:
        """Seconds until ``key`` may send again (at least 1)."""
        stats = self._limiter.get_window_stats(self._item(limit), NAMESPACE, str(key))
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _item(self, limit: int) -> RateLimitItemPerSecond:
        return RateLimitItemPerSecond(limit, self.window_s)
