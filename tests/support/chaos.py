"""A whole stack whose parts the chaos tests kill: its own Redis, its own PostgreSQL database,
two ``stylize reaper`` processes, worker processes in their own process groups, and the API
in-process with its real Celery sender. Timeouts are short so recovery fits in CI."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from bench.worker_process import WorkerStartError, start_worker_process
from cli.embedded_redis import free_port
from shared.settings import Settings
from tests.support import noise_png, wait_until

WORKER_START_TIMEOUT_S = 300
HEARTBEAT_TIMEOUT_S = 10.0  # a killed worker's job is requeued this long after its last beat
# (a live worker beats every 2.5 s: on a loaded 2-core machine a beat can lag by seconds)
ENDED = {"succeeded", "failed", "canceled"}


class OwnRedis:
    """A redis-server of the tests' own on a free port: killed and restarted at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it empty (no persistence) and wait until it answers."""
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, 60, f"redis-server on {self.port}")

    def kill(self) -> None:
        """SIGKILL: everything it held is gone."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)


@dataclass
class Workers:
    """``stylize worker`` processes, each the leader of its own process group."""

    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    names: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        """Start ``count`` workers at once; return when all are ready."""
        ready: list[subprocess.Popen[bytes]] = []
        errors: list[str] = []

        def one() -> None:
            name = f"chaos-{uuid.uuid4().hex[:6]}"  # the node name jobs record (name@host)
            command = ("worker", "--loglevel", "INFO", "--hostname", f"{name}@%h")
            try:
                process = start_worker_process(
                    self.env,
                    self.logs / f"{name}.log",
                    WORKER_START_TIMEOUT_S,
                    command,
                    new_session=True,
                )
            except WorkerStartError as exc:
                errors.append(str(exc))
                return
            self.names[name] = process
            ready.append(process)

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.started += ready
        if errors:
            pytest.fail(errors[0])
        return ready

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [process for process in self.started if process.poll() is None]

    def ensure(self, count: int) -> None:
        """At least ``count`` live workers."""
        missing = count - len(self.alive())
        if missing > 0:
            self.start(missing)

    def running(self, worker_name: str | None) -> subprocess.Popen[bytes]:
        """The process whose jobs carry ``worker_name`` (its node name, ``name@host``)."""
        return self.names[(worker_name or "").split("@")[0]]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """``kill -9`` of the worker's whole process group."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def kill_all(self) -> None:
        for process in self.alive():
            self.kill(process)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


@dataclass
class Chaos:
    """The stack: the API client and key, its workers, its Redis, storage and database."""

    settings: Settings
    client: FlaskClient
    headers: dict[str, str]
    workers: Workers
    redis: OwnRedis
    storage_root: Path

    def submit(self, iterations: int, max_size: int = 48) -> str:
        """A job with random images; its id."""
        response = self.client.post(
            "/v1/jobs",
            headers=self.headers,
            data={
                "content": (io.BytesIO(noise_png(max_size, max_size * 2 // 3, 1)), "c.png"),
                "style": (io.BytesIO(noise_png(32, 32, 2)), "s.png"),
                "iterations": str(iterations),
                "max_size": str(max_size),
                "preview_every": "0",
            },
        )
        assert response.status_code == 202, response.get_data(as_text=True)
        return response.get_json()["id"]

    def job(self, job_id: str) -> dict:
        response = self.client.get(f"/v1/jobs/{job_id}", headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def wait(self, job_id: str, test: object, timeout: float, what: str) -> dict:
        """Poll the job until ``test(body)`` holds; fail with the workers' logs if not."""
        return wait_until(
            lambda: (body := self.job(job_id)) and test(body) and body,  # type: ignore[operator]
            timeout,
            f"job {job_id}: {what}",
            diagnostics=lambda: f"{self.job(job_id)}\n{self.workers.log_tail()}",
        )

    def running_at(self, job_id: str, attempt: int, iteration: int = 2) -> dict:
        """Wait until ``attempt`` of the job is past ``iteration``."""
        return self.wait(
            job_id,
            lambda body: (
                body["status"] == "running"
                and body["attempts"] == attempt
                and body["progress"]["iteration"] >= iteration
            ),
            240,
            f"attempt {attempt} running past iteration {iteration}",
        )

    def results(self, job_id: str) -> list[Path]:
        return sorted((self.storage_root / "jobs" / job_id).glob("result*"))


def measured(what: str, seconds: float) -> None:
    """Print a recovery time (shown with ``pytest -s``; the numbers in docs/jobs.md)."""
    print(f"\nrecovery: {what}: {seconds:.1f} s", file=sys.stderr)
