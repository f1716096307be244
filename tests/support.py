"""Helpers shared by many tests: waiting on a loaded machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import requests

T = TypeVar("T")

# Generous per-request timeout: a busy 2-core machine can stall a response for seconds.
HTTP_TIMEOUT_S = 30.0


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    diagnostics: Callable[[], str] = lambda: "",
) -> T:
    """Call ``probe`` until it returns a truthy value; any exception counts as "not yet".

    Fails the test after ``timeout`` seconds, naming ``what`` and the last exception, with
    ``diagnostics()`` (e.g. a log's tail) appended.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, OSError) as exc:  # slow start: not yet
            last_error = exc
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout:.0f} s (last error: {last_error})\n"
                        f"{diagnostics()}")
        time.sleep(interval)
