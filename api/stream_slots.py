"""Caps on held connections (event streams and ``Prefer: wait``): per API key and per process.

A key's slots are leases in a Redis sorted set (member: a slot id, score: when it lapses), so
the cap holds across every API process and a crashed process's slots lapse on their own; the
process cap is a counter in memory. Beyond either, the request is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import redis

from api.errors import ApiProblem
from api.metrics import HELD_STREAMS

# Drop lapsed leases, then take one if fewer than ARGV[1] are held: one atomic round trip.
ACQUIRE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
RETRY_AFTER_S = 5


class StreamSlots:
    """Hands out held-connection slots: at most ``per_key`` per key, ``per_process`` here."""

    def __init__(self, client: redis.Redis, per_key: int, per_process: int) -> None:
        self._redis = client
        self._acquire = client.register_script(ACQUIRE_SCRIPT)
        self.per_key, self.per_process = per_key, per_process
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Slots held in this process now."""
        return self._held

    def take(self, key_id: uuid.UUID, longest_s: float) -> Slot:
        """A slot for at most ``longest_s`` seconds; a 429 problem when none is free."""
        with self._lock:
            if self._held >= self.per_process:
                raise _full("this server holds as many open streams and waits as it may")
            self._held += 1
        HELD_STREAMS.inc()
        slot = Slot(self, f"stylize:streams:{key_id}", uuid.uuid4().hex)
        try:
            now = time.time()
            taken = self._acquire(
                keys=[slot.leases],
                args=[self.per_key, now, now + longest_s + 5, slot.member, int(longest_s) + 60],
            )
        except redis.RedisError:
            slot.release()
            raise ApiProblem(
                503,
                "Service Unavailable",
                "live events are unavailable (Redis does not answer); poll the job instead",
                headers={"Retry-After": "5"},
            ) from None
        except BaseException:
            slot.release()
            raise
        if not taken:
            slot.release()
            raise _full(
                f"this key already holds {self.per_key} open event streams or waits; "
                "close one (or poll the job instead)"
            )
        return slot

    def _give_back(self, slot: Slot) -> None:
        with self._lock:
            self._held -= 1
        HELD_STREAMS.dec()
        with contextlib.suppress(redis.RedisError):  # else the lease lapses on its own
            self._redis.zrem(slot.leases, slot.member)


class Slot:
    """One held slot; ``release`` gives it back (once, however often it is called)."""

    def __init__(self, slots: StreamSlots, leases: str, member: str) -> None:
        self._slots, self.leases, self.member = slots, leases, member
        self._released = False

    def release(self) -> None:
        """Give the slot back."""
        if not self._released:
            self._released = True
            self._slots._give_back(self)


def _full(detail: str) -> ApiProblem:
    return ApiProblem(429, "Too Many Requests", detail, headers={"Retry-After": str(RETRY_AFTER_S)})
