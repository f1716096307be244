"""A per-process cache of checked API keys, so a poll does not pay a database query for its key.

``STYLIZE_AUTH_CACHE_S`` (default 2 s) is how long a checked key is trusted: a key revoked in
the database keeps working in a process that checked it for at most that long. Unknown and
revoked secrets are never cached (a new key works at once; a wrong one is asked about every
time). The cache holds the key's SHA-256 and a snapshot of its row, never the secret.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from shared.db.api_key import ApiKey

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class KeyInfo:
    """What a request needs of its API key (a snapshot; never bound to a session)."""

    id: uuid.UUID
    name: str
    is_admin: bool
    max_active_jobs: int | None
    rate_limit_per_minute: int | None
    webhook_secret: str | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyInfo:
        return cls(
            id=key.id,
            name=key.name,
            is_admin=key.is_admin,
            max_active_jobs=key.max_active_jobs,
            rate_limit_per_minute=key.rate_limit_per_minute,
            webhook_secret=key.webhook_secret,
        )


class KeyCache:
    """Checked keys by secret hash, each trusted for ``ttl_s`` seconds of ``clock``."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, KeyInfo]] = {}
        self._lock = threading.Lock()

    def get(self, secret_hash: str) -> KeyInfo | None:
        """The cached key for ``secret_hash`` while it is fresh, else None."""
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            with self._lock:
                self._entries.pop(secret_hash, None)
            return None
        return entry[1]

    def put(self, secret_hash: str, key: KeyInfo) -> None:
        """Trust ``key`` for the next ``ttl_s`` seconds (nothing when the TTL is 0)."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # rare: many keys at once; they are checked again
            self._entries[secret_hash] = (self._clock() + self.ttl_s, key)
