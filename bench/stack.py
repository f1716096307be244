"""A private service stack for the service benchmarks (``bench queue``, ``api``, ``scale``).

Real parts only: a scratch PostgreSQL database (created and dropped around the run) or a
temporary SQLite file, local storage in a temporary directory, the configured Redis with a
private queue, one gunicorn API process (``stylize api --workers 1``: gevent, as ``stylize up``
and compose run it) and ``stylize worker`` processes. Every child process imports the code
this module belongs to (``PYTHONPATH`` names its checkout), not whatever ``stylize`` is
installed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from sqlalchemy.engine import make_url

from bench.worker_process import start_worker_process
from cli.embedded_redis import free_port
from migrations import upgrade
from shared.api_keys import create_key
from shared.db.session import session_factory
from shared.settings import Settings, get_settings

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# The bench's own key never meets the limits: the limiter still counts every request.
UNLIMITED = 1_000_000_000


class StackError(RuntimeError):
    """A part of the bench stack did not start; the message says which and why."""


def child_env(
    settings: Settings, extra: Mapping[str, str] | None = None, checkout: Path = CHECKOUT
) -> dict[str, str]:
    """The environment of a child process on ``settings``: ``checkout`` (default: the one
    this module is in) first on sys.path."""
    env = {
        **os.environ,
        "STYLIZE_DATABASE_URL": settings.database_url,
        "STYLIZE_STORAGE_URL": settings.storage_url,
        "STYLIZE_BROKER_URL": settings.broker_url,
        "STYLIZE_GPU_QUEUE": settings.gpu_queue,
        "STYLIZE_LOG_FORMAT": "text",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(checkout), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env.update(extra or {})
    return env


@contextlib.contextmanager
def scratch_database(postgres_url: str | None, workdir: Path) -> Iterator[str]:
    """A migrated, empty database: a new one on the PostgreSQL server at ``postgres_url``
    (dropped afterwards), or a SQLite file in ``workdir`` when it is None."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the migration's steps are noise
    if postgres_url is None:
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    import psycopg

    server = make_url(postgres_url)
    admin_url = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"stylize_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        where = f"{server.host}:{server.port or 5432}"
        raise StackError(f"PostgreSQL at {where} does not answer: {exc}") from None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield url
        finally:
            session_factory.cache_clear()  # close this process's pool before the drop
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def revision_checkout(revision: str, workdir: Path) -> Iterator[Path]:
    """The files of git ``revision`` of this checkout, exported to a directory under
    ``workdir`` (to run an older API side by side with this one)."""
    target = workdir / f"rev-{uuid.uuid4().hex[:8]}"
    target.mkdir()
    try:
        archive = subprocess.run(
            ["git", "-C", str(CHECKOUT), "archive", revision],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        raise StackError(
            f"cannot export git revision {revision!r}: {stderr.decode()[-300:]}"
        ) from None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    yield target


@dataclass
class BenchStack:
    """The private stack's settings, its key and its child processes."""

    settings: Settings
    workdir: Path
    secret: str
    key_id: uuid.UUID
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def start_api(
        self,
        extra_env: Mapping[str, str] | None = None,
        name: str = "api",
        checkout: Path = CHECKOUT,
    ) -> str:
        """One gunicorn API process (``stylize api --workers 1``) running the code in
        ``checkout``; its base URL once ready."""
        port = free_port()
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "api", "--workers", "1", "--port", str(port)],
                env=child_env(self.settings, extra_env, checkout),
                cwd=checkout,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        self.apis.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/readyz", timeout=2).ok:
                    return url
            time.sleep(0.2)
        raise StackError(f"the API did not start:\n{log_path.read_text()[-3000:]}")

    def start_worker(
        self, name: str, extra_env: Mapping[str, str] | None = None, *, wait: bool = True
    ) -> None:
        """One ``stylize worker`` (concurrency 1, warm model), returned once it is ready (at
        once with ``wait=False``: it takes jobs when it is)."""
        process = start_worker_process(
            child_env(self.settings, extra_env),
            self.workdir / f"{name}.log",
            command=("worker", "--loglevel", "INFO", "--hostname", f"{name}@%h"),
            new_session=True,
            wait=wait,
        )
        self.processes.append(process)
        self.workers.append(process)

    def stop_workers(self) -> None:
        """Stop the worker processes (the API keeps running)."""
        stop(self.workers)
        self.processes = [p for p in self.processes if p not in self.workers]
        self.workers.clear()

    def stop_workers_and_apis(self) -> None:
        """Stop every child process; the APIs at once (SIGQUIT: gunicorn would otherwise give
        open event streams its 30 s graceful timeout)."""
        stop(self.apis, signal.SIGQUIT)
        stop([p for p in self.processes if p not in self.apis])
        self.processes.clear()
        self.workers.clear()
        self.apis.clear()


def stop(processes: list[subprocess.Popen[bytes]], how: signal.Signals = signal.SIGTERM) -> None:
    """Signal each process group (SIGTERM: stop gracefully), then SIGKILL what is left after
    60 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, how)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def bench_stack(workdir: Path, postgres_url: str | None) -> Iterator[BenchStack]:
    """A scratch database, storage in ``workdir``, private queues on the configured Redis and
    an unlimited key; child processes and the queues are gone afterwards."""
    base = get_settings()
    tag = uuid.uuid4().hex[:8]
    with scratch_database(postgres_url, workdir) as database_url:
        settings = base.model_copy(
            update={
                "database_url": database_url,
                "storage_url": f"file://{workdir / 'storage'}",
                "gpu_queue": f"bench-gpu-{tag}",
            }
        )
        with session_factory(database_url)() as session:
            key, secret = create_key(
                session, "bench", max_active_jobs=UNLIMITED, rate_limit_per_minute=UNLIMITED
            )
        stack = BenchStack(settings, workdir, secret, key.id)
        try:
            yield stack
        finally:
            stack.stop_workers_and_apis()
            redis.Redis.from_url(settings.broker_url).delete(settings.gpu_queue)
