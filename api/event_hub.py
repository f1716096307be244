"""One Redis subscription per API process, fanned out to every open stream and wait in it.

A stream (or a ``Prefer: wait``) does not open a Redis connection of its own: the hub holds
one pattern subscription to every job's channel from a background thread (a greenlet under
gevent) and hands each job's events to the listeners of that job. Each listener keeps at most
``LISTENER_BUFFER`` events; a reader that falls behind loses the oldest, never memory. If Redis
goes away, listeners are told (``None`` events) and the hub reconnects with backoff. When the
process is told to stop, every listener gets ``CLOSING``: streams and waits answer at once
instead of holding the stop for gunicorn's graceful timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import redis

from shared.progress_channel import EVENTS_PATTERN, job_of_channel

log = logging.getLogger(__name__)

LISTENER_BUFFER = 64
READY_TIMEOUT_S = 3.0
MAX_BACKOFF_S = 5.0
CLOSING: dict[str, Any] = {"type": "closing"}  # the process stops: answer now
_HUBS: weakref.WeakSet[EventHub] = weakref.WeakSet()


def close_streams() -> None:
    """Tell every listener of this process's hubs that the process stops (``CLOSING``), and
    every listener registered from now on at once."""
    for hub in list(_HUBS):
        hub.close()


class HubUnavailable(Exception):
    """The hub's subscription is not live (Redis does not answer)."""


class Listener:
    """The events of one job, in order, as they arrive after it was registered."""

    def __init__(self) -> None:
        self._events: deque[dict[str, Any] | None] = deque(maxlen=LISTENER_BUFFER)
        self._ready = threading.Condition()

    def push(self, event: dict[str, Any] | None) -> None:
        """Queue ``event`` (None: the subscription broke and events may have been missed)."""
        with self._ready:
            self._events.append(event)
            self._ready.notify()

    def next(self, timeout_s: float) -> tuple[bool, dict[str, Any] | None]:
        """``(True, event)`` for the next event (None: events may have been missed), or
        ``(False, None)`` after ``timeout_s`` of silence."""
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while not self._events:
                left = deadline - time.monotonic()
                if (left <= 0 or not self._ready.wait(left)) and not self._events:
                    return False, None
            return True, self._events.popleft()


class EventHub:
    """Fans the events of every job out to this process's listeners."""

    def __init__(self, connect: Callable[[], redis.Redis]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}
        self._live = threading.Event()
        self._thread: threading.Thread | None = None
        self._closing = False
        _HUBS.add(self)

    def register(self, job_id: str) -> Listener:
        """A listener for ``job_id``'s events from now on; HubUnavailable unless the hub's
        subscription is live (so a state read after this misses no event)."""
        self._start()
        listener = Listener()
        with self._lock:
            self._listeners.setdefault(job_id, set()).add(listener)
            if self._closing:
                listener.push(CLOSING)
        if not self._live.wait(READY_TIMEOUT_S):
            self.unregister(job_id, listener)
            raise HubUnavailable("the event subscription is not live (Redis)")
        return listener

    def unregister(self, job_id: str, listener: Listener) -> None:
        """Stop delivering ``job_id``'s events to ``listener``."""
        with self._lock:
            listeners = self._listeners.get(job_id, set())
            listeners.discard(listener)
            if not listeners:
                self._listeners.pop(job_id, None)

    def close(self) -> None:
        """The process stops: ``CLOSING`` to every listener, now and from now on."""
        with self._lock:
            self._closing = True
        self._broadcast(CLOSING)

    def listening(self) -> int:
        """Listeners registered now."""
        with self._lock:
            return sum(len(listeners) for listeners in self._listeners.values())

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._subscribe_and_dispatch()
            except (redis.RedisError, OSError) as exc:
                log.warning("event hub lost Redis (%s); reconnecting in %.1f s", exc, backoff)
            if self._live.is_set():
                backoff = 0.1  # it was live: a fresh outage starts the backoff over
            self._live.clear()
            self._broadcast(None)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _subscribe_and_dispatch(self) -> None:
        pubsub = self._connect().pubsub()
        try:
            pubsub.psubscribe(EVENTS_PATTERN)
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    self._live.set()
                elif message["type"] == "pmessage":
                    self._dispatch(message)
        finally:
            pubsub.close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        job_id = job_of_channel(message["channel"])
        with self._lock:
            listeners = list(self._listeners.get(job_id, ()))
        if not listeners:
            return
        event = json.loads(message["data"])
        for listener in listeners:
            listener.push(event)

    def _broadcast(self, event: dict[str, Any] | None) -> None:
        with self._lock:
            listeners = [item for group in self._listeners.values() for item in group]
        for listener in listeners:
            listener.push(event)
