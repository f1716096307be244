"""``stylize up``: check every part, start the services, wait until each answers, supervise.

Nothing starts until the settings, ports, storage, broker and database have answered; a
failure is one line naming the part and what to do, and leaves no process behind.
``services`` is the list of child processes: add one there to run it with the stack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import click

from cli import liveness
from cli.net import http_ok, port_is_free, require_flower_auth
from shared.settings import Settings, mask_url_password

READY_TIMEOUT_S = 900  # a first start on a loaded CPU host loads TensorFlow slowly
STOP_GRACE_S = 60  # at least STYLIZE_WORKER_SHUTDOWN_S + 10: a worker may finish its job
STYLIZE = [sys.executable, "-m", "cli"]


@dataclass(frozen=True)
class StackOptions:
    """What ``stylize up`` was asked for on its command line."""

    api_port: int | None = None
    workers: int = 1
    flower: bool = True
    metrics_port: int | None = None


@dataclass
class Service:
    """One child process of the stack: how to start it and how to tell that it answers.

    ``bind`` is the address its ``port`` must be free on. Services with ``after_workers``
    start once every worker answers (Flower's start-up inspection then finds them).
    """

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    port: int | None = None
    bind: str = "0.0.0.0"
    url: str | None = None
    port_hint: str = ""
    after_workers: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def workers_answer(settings: Settings, broker_url: str, names: list[str]) -> Callable[[], bool]:
    """A probe: True once every worker in ``names`` answers a Celery ping."""
    from celery import Celery

    from shared.broker import celery_options

    app = Celery("stylize-up")
    app.conf.update(celery_options(settings), broker_url=broker_url)

    def probe() -> bool:
        try:
            replies = app.control.ping(destination=names, timeout=1.0)
        except Exception:  # the broker hiccuped: not yet
            return False
        return {name for reply in replies for name in reply} >= set(names)

    return probe


def services(settings: Settings, options: StackOptions, broker_url: str) -> list[Service]:
    """The child processes of ``stylize up``, in start order (the API first)."""
    api_port = options.api_port or settings.api_port
    api_url = f"http://{settings.api_host}:{api_port}"
    stack = [
        Service(
            "the API",
            [*STYLIZE, "api", "--port", str(api_port)],
            lambda: http_ok(f"{api_url}/readyz"),
            port=api_port,
            bind=settings.api_host,
            url=api_url,
            port_hint="pass --port or set STYLIZE_API_PORT",
        )
    ]
    names = [f"worker{n}@{socket.gethostname()}" for n in range(1, options.workers + 1)]
    workers_ready = workers_answer(settings, broker_url, names)
    for n, name in enumerate(names):
        port = options.metrics_port + n if options.metrics_port else None
        metrics = ["--metrics-port", str(port)] if port else []
        stack.append(
            Service(
                f"worker {name}",
                [*STYLIZE, "worker", "--hostname", name, *metrics],
                workers_ready,
                port=port,
                url=f"http://127.0.0.1:{port}/metrics" if port else None,
                port_hint="pass a --metrics-port with enough free ports after it",
            )
        )
    for name, command in (("the reaper", "reaper"), ("webhook delivery", "webhooks")):
        alive = liveness.default_path(f"{command}-{api_port}")  # one per stack on this host
        stack.append(
            Service(
                name,
                [*STYLIZE, command, "--alive-file", str(alive)],
                lambda alive=alive: liveness.is_fresh(alive, 60.0),
            )
        )
    if options.flower:
        flower_url = f"http://{settings.flower_host}:{settings.flower_port}"
        stack.append(
            Service(
                "Flower",
                [*STYLIZE, "flower"],
                lambda: http_ok(f"{flower_url}/healthcheck"),
                port=settings.flower_port,
                bind=settings.flower_host,
                url=flower_url,
                port_hint="set STYLIZE_FLOWER_PORT to a free port, or pass --no-flower",
                after_workers=True,
            )
        )
    return stack


def check_ports(stack: list[Service]) -> None:
    """ClickException naming the first port something already listens on."""
    for service in stack:
        if service.port is None or port_is_free(service.bind, service.port):
            continue
        if service is stack[0] and http_ok(f"{service.url}/healthz"):
            raise click.ClickException(
                f"stylize is already running at {service.url}; stop it first, or pass --port"
            )
        raise click.ClickException(
            f"port {service.port} for {service.name} is in use; {service.port_hint}"
        )


def check_database(settings: Settings) -> None:
    """Apply migrations; an unreachable database is one line (ClickException)."""
    from cli.db_cmd import database_errors
    from migrations import upgrade

    with database_errors():
        upgrade(settings.database_url)


def check_storage(settings: Settings) -> None:
    """ClickException unless storage answers (a local directory is created)."""
    from shared.storage import open_storage

    if not open_storage(settings).ping():
        raise click.ClickException(
            f"storage {mask_url_password(settings.storage_url)} does not answer; check "
            "STYLIZE_STORAGE_URL (for S3 also STYLIZE_S3_* and that the bucket exists)"
        )


def first_key(settings: Settings) -> str | None:
    """Create an API key named ``first`` when none exists; its secret, else None."""
    from shared.api_keys import create_key, list_keys
    from shared.db.session import session_factory

    with session_factory(settings.database_url)() as session:
        if list_keys(session):
            return None
        _, secret = create_key(session, "first")
    return secret


def exited(stack: list[Service]) -> Service | None:
    """The first started service whose process has exited, if any."""
    for service in stack:
        if service.process is not None and service.process.poll() is not None:
            return service
    return None


def start_and_wait(stack: list[Service], env: dict[str, str], stopping: list[int]) -> str | None:
    """Start the services in order and wait until each answers; a one-line failure, or None."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    for group in ([s for s in stack if not s.after_workers], [s for s in stack if s.after_workers]):
        for service in group:
            service.process = subprocess.Popen(service.argv, env=env)
        pending = list(group)
        while pending and not stopping:
            died = exited(stack)
            if died is not None:
                return f"{died.name} exited during start-up; its log is above"
            if time.monotonic() > deadline:
                names = ", ".join(service.name for service in pending)
                return f"{names} did not answer within {READY_TIMEOUT_S} s; the log is above"
            pending = [service for service in pending if not service.ready()]
            if pending:
                time.sleep(0.5)
    return None


def announce(stack: list[Service], broker: str, secret: str | None) -> None:
    """Print, once, where everything answers and how to get a key (``label  value`` lines)."""
    api = stack[0]
    rows = [("API", api.url), ("docs", f"{api.url}/docs"), ("metrics", f"{api.url}/metrics")]
    rows += [(s.name, s.url) for s in stack if s.name == "Flower"]
    rows += [(f"{s.name.split()[-1]}", s.url) for s in stack[1:] if s.name != "Flower" and s.url]
    rows += [("broker", broker)]
    if secret:
        rows += [("key", f"{secret}  (the first API key, shown only this once: keep it)")]
    rows += [("keys", "stylize keys create NAME"), ("stop", "Ctrl-C stops everything")]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["stylize: ready", *(f"  {label:<{width}}{value}" for label, value in rows)]
    click.echo("\n".join(lines), err=True)


def stop(
    stack: list[Service], redis_process: subprocess.Popen[bytes] | None, grace_s: float
) -> None:
    """SIGTERM every child (workers finish or hand back their job within ``grace_s``), then
    the embedded Redis."""
    processes = [s.process for s in stack if s.process is not None]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if redis_process is not None:
        redis_process.terminate()
        redis_process.wait(timeout=STOP_GRACE_S)


def run_stack(settings: Settings, options: StackOptions) -> None:
    """``stylize up``: check, start, wait until everything answers, print where, supervise."""
    from cli.embedded_redis import ensure_broker

    if options.flower:
        require_flower_auth(settings.flower_host, settings.flower_basic_auth)
    check_ports(services(settings, options, settings.broker_url))
    check_storage(settings)
    broker_url, redis_process = ensure_broker(settings.broker_url)
    try:
        check_database(settings)  # last: its migrations log what they apply
    except BaseException:  # a bad database, or Ctrl-C meanwhile: the embedded Redis goes too
        stop([], redis_process, STOP_GRACE_S)
        raise
    stack = services(settings, options, broker_url)
    env = {**os.environ, "STYLIZE_BROKER_URL": broker_url}
    broker = f"{mask_url_password(broker_url)} ({'embedded' if redis_process else 'configured'})"
    stopping: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: stopping.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    failure = None
    try:
        failure = start_and_wait(stack, env, stopping)
        if failure is None and not stopping:
            announce(stack, broker, first_key(settings))
            while not stopping and (died := exited(stack)) is None:
                time.sleep(0.2)
            if not stopping and died is not None:
                failure = f"{died.name} exited unexpectedly; its log is above"
    finally:
        stop(stack, redis_process, max(STOP_GRACE_S, settings.worker_shutdown_s + 10))
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failure is not None:
        raise click.ClickException(failure)
