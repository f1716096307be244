"""A real stack: migrated DB, local storage, real Redis, a real Celery worker process.

The API runs in-process from the app factory with its real Celery task sender (``served``
serves it over real HTTP); the worker is a separate ``stylize worker`` process on the CPU with
the real hed weights. Each stack has its own GPU queue; webhooks may reach 127.0.0.1, where
the tests' receivers listen. The fixtures that build it live in tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from werkzeug.serving import make_server

from api import create_app
from bench.worker_process import WorkerStartError, start_worker_process
from shared.api_keys import create_key
from shared.db.job import TERMINAL_STATUSES
from shared.db.session import session_factory
from shared.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/13"
WORKER_START_TIMEOUT_S = 300


@dataclass
class Stack:
    """Everything a test needs to drive the service end to end."""

    settings: Settings
    app: Flask
    client: object
    headers: dict[str, str]
    worker_log: Path
    env: dict[str, str]
    webhook_secret: str

    def wait_for(self, job_id: str, statuses: set[str], timeout: float = 300) -> dict:
        """Poll the job until its status is in ``statuses``; fail with the worker log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.client.get(f"/v1/jobs/{job_id}", headers=self.headers).get_json()
            if body["status"] in statuses:
                return body
            time.sleep(0.05)
        tail = self.worker_log.read_text()[-4000:]
        pytest.fail(f"job {job_id} never reached {statuses}; worker log:\n{tail}")


def start_worker(
    env: dict[str, str], log_path: Path, args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Start ``stylize worker [args]``; fail the test with its log if it does not become ready."""
    try:
        return start_worker_process(
            env, log_path, WORKER_START_TIMEOUT_S, ("worker", "--loglevel", "INFO", *args)
        )
    except WorkerStartError as exc:
        pytest.fail(str(exc))


def running_stack(database_url: str, tmp: Path) -> Iterator[Stack]:
    """Start a worker on ``database_url`` and a private queue; stop it and clear the queue after."""
    queue = f"gpu-test-{uuid.uuid4().hex[:8]}"
    overrides = {
        "STYLIZE_WEBHOOK_ALLOW": "127.0.0.1",  # the tests' receivers listen there
        "STYLIZE_DATABASE_URL": database_url,
        "STYLIZE_STORAGE_URL": f"file://{tmp / 'storage'}",
        "STYLIZE_BROKER_URL": REDIS_URL,
        "STYLIZE_GPU_QUEUE": queue,
        "STYLIZE_VGG_WEIGHTS": "hed",
        "STYLIZE_PROGRESS_DB_INTERVAL_S": "0.2",
        "STYLIZE_RATE_LIMIT_PER_MINUTE": "100000",  # tests poll fast; tests/api test the limit
    }
    settings = Settings(
        **{key.removeprefix("STYLIZE_").lower(): value for key, value in overrides.items()}
    )
    env = {**os.environ, **overrides, "TF_CPP_MIN_LOG_LEVEL": "2"}
    worker_log = tmp / "worker.log"
    worker = start_worker(env, worker_log)
    with session_factory(database_url)() as session:
        key, secret = create_key(session, "integration")
    app = create_app(settings)
    try:
        yield Stack(
            settings,
            app,
            app.test_client(),
            {"Authorization": f"Bearer {secret}"},
            worker_log,
            env,
            str(key.webhook_secret),
        )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis.Redis.from_url(REDIS_URL).delete(queue)


def with_new_key(stack: Stack, name: str) -> Stack:
    """The same running service with a fresh API key (its own jobs, limits and webhook secret)."""
    with session_factory(stack.settings.database_url)() as session:
        key, secret = create_key(session, name)
    return replace(
        stack, headers={"Authorization": f"Bearer {secret}"}, webhook_secret=str(key.webhook_secret)
    )


def finish_jobs_of(stack: Stack, timeout: float = 120) -> None:
    """Cancel the stack key's unfinished jobs and wait until every one has ended."""
    ended = {status.value for status in TERMINAL_STATUSES}
    deadline = time.monotonic() + timeout
    while True:
        listed = stack.client.get("/v1/jobs?limit=100", headers=stack.headers).get_json()
        running = [job["id"] for job in listed["jobs"] if job["status"] not in ended]
        if not running:
            return
        if time.monotonic() > deadline:
            tail = stack.worker_log.read_text()[-3000:]
            pytest.fail(f"jobs {running} never ended after their module; worker log:\n{tail}")
        for job_id in running:
            stack.client.post(f"/v1/jobs/{job_id}/cancel", headers=stack.headers)
        time.sleep(0.2)


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """``app`` served over real HTTP (werkzeug, threaded) on a free port: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def start_webhooks(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``stylize webhooks`` (no model); fail the test with its log if it is not ready."""
    alive = log_path.with_suffix(".alive")
    try:
        return start_worker_process(
            {**env, "STYLIZE_LOG_FORMAT": "text"},
            log_path,
            WORKER_START_TIMEOUT_S,
            ("webhooks", "--alive-file", str(alive)),
            ready_line="webhooks: ",
        )
    except WorkerStartError as exc:
        pytest.fail(str(exc))
