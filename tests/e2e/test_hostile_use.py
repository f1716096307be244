"""A real API process (``stylize api``: gunicorn with gevent) under hostile use: hundreds of
open event streams leave health checks and polls answering, streams beyond a key's cap are
429, racing submits never pass a key's active-job limit, and a stop ends streams at once."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from bench.stack import BenchStack, bench_stack
from shared.api_keys import create_key
from shared.db.session import session_factory
from tests.support import HTTP_TIMEOUT_S, noise_png

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STREAMS_PER_KEY = 30
KEYS = 10  # 300 streams in all
API_ENV = {"STYLIZE_EVENTS_PER_KEY": str(STREAMS_PER_KEY), "STYLIZE_RATE_LIMIT_PER_MINUTE": "10000"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BenchStack, str]]:
    """One gunicorn API process on a scratch SQLite database and the machine's Redis."""
    with bench_stack(tmp_path_factory.mktemp("hostile"), None) as stack:
        yield stack, stack.start_api(API_ENV)


def new_key(stack: BenchStack, name: str, **limits: int) -> dict[str, str]:
    with session_factory(stack.settings.database_url)() as session:
        _, secret = create_key(session, name, **limits)
    return {"Authorization": f"Bearer {secret}"}


def submit(url: str, headers: dict[str, str]) -> requests.Response:
    files = [
        ("content", ("c.png", noise_png(32, 24, 1))),
        ("style", ("s.png", noise_png(24, 24, 2))),
    ]
    return requests.post(
        f"{url}/v1/jobs",
        headers=headers,
        files=files,
        data={"iterations": "2"},
        timeout=HTTP_TIMEOUT_S,
    )


def open_stream(url: str, headers: dict[str, str], job_id: str) -> socket.socket:
    """An event stream held open on a raw socket, once its 200 arrived."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=HTTP_TIMEOUT_S)
    request = (
        f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {headers['Authorization']}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = sock.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 200"), head[:200]
    return sock


def timed(get: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = requests.get(get, headers=headers, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text[:300]
    return time.perf_counter() - started


def test_hundreds_of_streams_leave_health_checks_and_polls_answering(
    api: tuple[BenchStack, str],
) -> None:
    stack, url = api
    keys = [new_key(stack, f"viewer-{n}") for n in range(KEYS)]
    jobs = [submit(url, key).json()["id"] for key in keys]
    with ExitStack() as streams:
        for key, job_id in zip(keys, jobs, strict=True):
            for _ in range(STREAMS_PER_KEY):
                streams.callback(open_stream(url, key, job_id).close)
        health = [timed(f"{url}/healthz") for _ in range(20)]
        polls = [timed(f"{url}/v1/jobs/{jobs[0]}", keys[0]) for _ in range(20)]
        over = requests.get(f"{url}/v1/jobs/{jobs[0]}/events", headers=keys[0], timeout=10)
    print(
        f"\n{KEYS * STREAMS_PER_KEY} streams open: /healthz median "
        f"{statistics.median(health) * 1e3:.1f} ms (max {max(health) * 1e3:.1f}), poll median "
        f"{statistics.median(polls) * 1e3:.1f} ms (max {max(polls) * 1e3:.1f})"
    )
    assert max(health) < 1.0 and max(polls) < 1.0, (health, polls)  # a held thread: 30 s
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0


def test_racing_submits_never_pass_the_active_job_limit(api: tuple[BenchStack, str]) -> None:
    stack, url = api
    limited = new_key(stack, "racer", max_active_jobs=3)
    stored = Path(stack.workdir) / "storage" / "jobs"
    before = set(stored.iterdir()) if stored.exists() else set()
    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(lambda _: submit(url, limited).status_code, range(12)))
    assert statuses == [202] * 3 + [429] * 9
    listed = requests.get(f"{url}/v1/jobs", headers=limited, timeout=HTTP_TIMEOUT_S).json()
    accepted = {job["id"] for job in listed["jobs"]}
    assert len(accepted) == 3
    added = {path.name for path in set(stored.iterdir()) - before if any(path.iterdir())}
    assert added == accepted, "a refused submit leaves no image behind"


def test_a_stopping_api_ends_its_streams_at_once(api: tuple[BenchStack, str]) -> None:
    """SIGTERM: open streams ask their clients to reconnect and the process is gone in
    seconds, not after gunicorn's 30 s graceful timeout."""
    stack, _ = api
    url = stack.start_api(API_ENV, name="stopping-api")
    process = stack.apis[-1]
    key = new_key(stack, "viewer-of-a-stop")
    job_id = submit(url, key).json()["id"]  # no worker: it stays queued
    streams = [open_stream(url, key, job_id) for _ in range(3)]
    os.killpg(process.pid, signal.SIGTERM)
    started = time.monotonic()
    for sock in streams:
        received = b""
        while chunk := sock.recv(4096):  # until the server closes the stream
            received += chunk
        sock.close()
        assert b"retry: " in received, received[-300:]
    process.wait(timeout=20)
    stopped_s = time.monotonic() - started
    print(f"\nSIGTERM with 3 streams open: the API process was gone after {stopped_s:.1f} s")
    assert stopped_s < 10, stopped_s
