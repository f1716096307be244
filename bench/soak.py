"""``stylize bench soak``: minutes of mixed, partly hostile use of a whole private stack.

One API process (gunicorn), one worker, the reaper and ``stylize webhooks`` on a scratch
database, storage and the configured Redis. Three keys submit tiny jobs with webhooks: one to a
receiver that answers at once, one to a slow receiver, one to a receiver that trickles its
answer forever. Meanwhile clients poll, list, follow event streams, wait (``Prefer: wait``),
cancel and delete, and the worker is killed and started again a third of the way in. Then
everything is left to settle, and the report says: jobs accepted, jobs that ended exactly once
(one ``completed`` message each), ``completed`` webhooks delivered per ended job of the good
receiver's key, files left in storage that no row accounts for, the API's latency over every
plain request, and the largest RSS of each process.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import random
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from sqlalchemy import select

from bench.stack import BenchStack, bench_stack, child_env
from bench.stats import summary
from bench.worker_process import start_worker_process
from shared.api_keys import create_key
from shared.db.job import TERMINAL_STATUSES, Job
from shared.db.session import session_factory
from shared.db.webhook_delivery import WebhookDelivery

STACK_ENV = {
    "STYLIZE_WEBHOOK_ALLOW": "127.0.0.1",
    "STYLIZE_HEARTBEAT_TIMEOUT_S": "6",
    "STYLIZE_REAPER_INTERVAL_S": "1",
    "STYLIZE_RESEND_AFTER_S": "3",
    "STYLIZE_WEBHOOK_DEADLINE_S": "3",
    "STYLIZE_EVENTS_MAX_S": "20",
    "STYLIZE_PROGRESS_DB_INTERVAL_S": "0.5",
}
JOB = {
    "iterations": "12",
    "max_size": "32",
    "preview_every": "4",
    "webhook_events": "running,completed",
}
ENDED = {status.value for status in TERMINAL_STATUSES}
SETTLE_S = 240.0
TIMEOUT_S = 30.0


class _Answering(http.server.BaseHTTPRequestHandler):
    delay_s = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.delay_s)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def receiver(delay_s: float) -> Iterator[str]:
    """An HTTP receiver on 127.0.0.1 answering 200 after ``delay_s``: its URL."""
    handler = type("Receiver", (_Answering,), {"delay_s": delay_s})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def trickling_receiver() -> Iterator[str]:
    """A receiver that sends a status line and then one byte every half second, forever."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.5):
                connection.sendall(b"X")

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        listener.close()


@dataclass
class Traffic:
    """What the clients did: jobs accepted per key, latencies, statuses, deletions."""

    accepted: dict[str, list[str]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, status: int, timed: bool = True) -> None:
        with self.lock:
            self.statuses[status] += 1
            if timed:
                self.latencies.append(time.perf_counter() - started)

    def jobs(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(key, job) for key, jobs in self.accepted.items() for job in jobs]


def content_files() -> list[tuple[str, tuple[str, bytes]]]:
    """A tiny content and style image (PNG)."""
    import numpy as np

    from shared.images import encode_image

    rng = np.random.default_rng(7)
    picture = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    style = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    return [
        ("content", ("c.png", encode_image(picture))),
        ("style", ("s.png", encode_image(style))),
    ]


def client_loops(
    url: str, keys: dict[str, tuple[str, str]], traffic: Traffic, stop: threading.Event
) -> list[Callable[[], None]]:
    """The clients, one callable each: they run until ``stop`` is set."""
    files = content_files()

    def call(method: str, path: str, secret: str, timed: bool = True, **kwargs: object):
        started = time.perf_counter()
        kwargs.setdefault("timeout", TIMEOUT_S)
        try:
            response = requests.request(
                method,
                url + path,
                headers={"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})},
                **kwargs,
            )
        except requests.RequestException:
            traffic.record(started, 0, timed)
            return None
        traffic.record(started, response.status_code, timed)
        return response

    def submitter(name: str) -> Callable[[], None]:
        secret, hook = keys[name]

        def loop() -> None:
            while not stop.is_set():
                waits = random.random() < 0.2
                headers = {"Prefer": "wait=5"} if waits else {}
                answer = call(
                    "POST",
                    "/v1/jobs",
                    secret,
                    not waits,
                    files=files,
                    data={**JOB, "webhook_url": hook},
                    headers=headers,
                )
                if answer is not None and answer.status_code in (200, 201, 202):
                    with traffic.lock:
                        traffic.accepted.setdefault(name, []).append(answer.json()["id"])
                stop.wait(0.3 if answer is not None and answer.status_code != 429 else 1.0)

        return loop

    def random_job() -> tuple[str, str] | None:
        jobs = traffic.jobs()
        return random.choice(jobs) if jobs else None

    def poller() -> None:
        while not stop.is_set():
            picked = random_job()
            if picked:
                call("GET", f"/v1/jobs/{picked[1]}", keys[picked[0]][0])
                call("GET", "/v1/jobs?limit=20", keys[picked[0]][0])
            stop.wait(0.05)

    def streamer() -> None:
        while not stop.is_set():
            picked = random_job()
            if picked:
                answer = call(
                    "GET",
                    f"/v1/jobs/{picked[1]}/events",
                    keys[picked[0]][0],
                    False,
                    stream=True,
                    timeout=(TIMEOUT_S, 25),
                )
                if answer is not None:
                    with contextlib.suppress(requests.RequestException), answer:
                        deadline = time.monotonic() + 10
                        for _ in answer.iter_lines():
                            if time.monotonic() > deadline or stop.is_set():
                                break
            stop.wait(0.2)

    def canceler() -> None:
        while not stop.wait(3):
            picked = random_job()
            if picked:
                call("POST", f"/v1/jobs/{picked[1]}/cancel", keys[picked[0]][0])

    def deleter() -> None:
        while not stop.wait(4):
            picked = random_job()
            if picked and call("DELETE", f"/v1/jobs/{picked[1]}", keys[picked[0]][0]):
                with traffic.lock:
                    traffic.deleted.add(picked[1])

    return [
        *(submitter(name) for name in keys),
        poller,
        poller,
        streamer,
        streamer,
        canceler,
        deleter,
    ]


class RssSampler:
    """The largest resident memory of each named process tree, sampled every second."""

    def __init__(self, pids: Callable[[], dict[str, int]]) -> None:
        self.pids, self.peak_mb = pids, Counter[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            for name, pid in self.pids().items():
                with contextlib.suppress(psutil.Error):
                    tree = psutil.Process(pid)
                    rss = sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)])
                    self.peak_mb[name] = max(self.peak_mb[name], round(rss / 2**20, 1))

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return dict(self.peak_mb)


def leaked_files(stack: BenchStack) -> int:
    """Files under storage/jobs that no row accounts for (inputs, the preview, the result)."""
    root = Path(stack.settings.storage_url.removeprefix("file://"))
    with session_factory(stack.settings.database_url)() as session:
        rows = {str(job.id): job for job in session.scalars(select(Job))}
    leaked = 0
    for folder in (root / "jobs").glob("*"):
        job = rows.get(folder.name)
        expected: set[str] = set()
        if job is not None and job.inputs_removed_at is None:
            expected |= {job.content_key, *job.style_keys}
        if job is not None and job.outputs_removed_at is None:
            expected |= {key for key in (job.preview_key, job.result_key) if key}
        leaked += sum(
            1
            for path in folder.iterdir()
            if not path.name.startswith(".tmp")
            and f"jobs/{folder.name}/{path.name}" not in expected
        )
    return leaked


def settle(stack: BenchStack, accepted: list[str], good: str) -> None:
    """Wait until every accepted job ended and the good key's deliveries are all sent."""
    sessions = session_factory(stack.settings.database_url)
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        with sessions() as session:
            jobs = session.scalars(select(Job).where(Job.id.in_([uuid.UUID(j) for j in accepted])))
            active = [job for job in jobs if job.status not in ENDED]
            pending = session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.owner_id == uuid.UUID(good),
                )
            ).all()
        if not active and not pending:
            return
        time.sleep(1.0)


def ends(stack: BenchStack, accepted: list[str]) -> tuple[int, Counter[str]]:
    """How many accepted jobs ended exactly once (one completed message each, row ended or
    deleted), and the completed messages' delivery statuses by key id."""
    sessions = session_factory(stack.settings.database_url)
    ids = [uuid.UUID(job) for job in accepted]
    with sessions() as session:
        statuses = {
            str(j.id): j.status for j in session.scalars(select(Job).where(Job.id.in_(ids)))
        }
        completed = session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.job_id.in_(ids), WebhookDelivery.event == "completed"
            )
        ).all()
    per_job = Counter(str(delivery.job_id) for delivery in completed)
    once = sum(
        1
        for job in accepted
        if per_job[job] == 1 and statuses.get(job, "deleted") in ENDED | {"deleted"}
    )
    delivered = Counter(f"{d.owner_id}:{d.status}" for d in completed)
    return once, delivered


def run_soak(minutes: float, postgres_url: str | None) -> dict[str, object]:
    """Run the soak for ``minutes`` and settle; the report as a JSON-ready dict."""
    with contextlib.ExitStack() as resources:
        workdir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        stack = resources.enter_context(bench_stack(workdir, postgres_url))
        good = resources.enter_context(receiver(0.0))
        slow = resources.enter_context(receiver(2.0))
        hostile = resources.enter_context(trickling_receiver())
        keys, key_ids = {}, {}
        with session_factory(stack.settings.database_url)() as session:
            for name, hook in (("good", good), ("slow", slow), ("hostile", hostile)):
                key, secret = create_key(
                    session, name, max_active_jobs=6, rate_limit_per_minute=100_000
                )
                keys[name], key_ids[name] = (secret, hook), str(key.id)
        url = stack.start_api(STACK_ENV)
        processes: dict[str, int] = {"api": stack.processes[-1].pid}
        stack.start_worker("soak-worker", STACK_ENV)
        processes["worker"] = stack.workers[-1].pid
        env = child_env(stack.settings, STACK_ENV)
        for name, command, ready in (
            ("reaper", ("reaper",), "reaper: every"),
            (
                "webhooks",
                ("webhooks", "--alive-file", str(workdir / "webhooks.alive")),
                "webhooks: ",
            ),
        ):
            process = start_worker_process(
                {**env, "STYLIZE_LOG_FORMAT": "text"},
                workdir / f"{name}.log",
                60,
                command,
                new_session=True,
                ready_line=ready,
            )
            stack.processes.append(process)
            processes[name] = process.pid
        sampler = RssSampler(lambda: processes)
        traffic, stop = Traffic(), threading.Event()
        clients = [
            threading.Thread(target=loop, daemon=True)
            for loop in client_loops(url, keys, traffic, stop)
        ]
        for thread in clients:
            thread.start()
        time.sleep(minutes * 60 / 3)
        victim = stack.workers.pop()
        os.killpg(victim.pid, signal.SIGKILL)  # mid-job, as a crash would
        victim.wait()
        stack.processes.remove(victim)
        time.sleep(3)
        # the traffic goes on while it loads its model; the jobs wait in the queue meanwhile
        stack.start_worker("soak-worker-2", STACK_ENV, wait=False)
        processes["worker"] = stack.workers[-1].pid
        time.sleep(minutes * 60 * 2 / 3 - 3)
        stop.set()
        for thread in clients:
            thread.join(timeout=TIMEOUT_S * 2)
        accepted = [job for _, job in traffic.jobs()]
        settle(stack, accepted, key_ids["good"])
        rss = sampler.stop()
        once, delivered = ends(stack, accepted)
        good_ended = len(traffic.accepted.get("good", []))
        return {
            "minutes": minutes,
            "database": "sqlite" if postgres_url is None else "postgresql",
            "accepted": len(accepted),
            "deleted": len(traffic.deleted),
            "ended_exactly_once": once,
            "webhooks_per_ended_job_good_receiver": round(
                delivered[f"{key_ids['good']}:delivered"] / max(good_ended, 1), 3
            ),
            "completed_messages": {
                name: {
                    status: delivered[f"{key_id}:{status}"]
                    for status in ("delivered", "pending", "failed", "dropped")
                }
                for name, key_id in key_ids.items()
            },
            "leaked_files": leaked_files(stack),
            "requests": sum(traffic.statuses.values()),
            "statuses": {str(code): count for code, count in sorted(traffic.statuses.items())},
            "api_ms": {k: round(v * 1e3, 1) for k, v in summary(traffic.latencies, 4).items()},
            "max_rss_mb": rss,
        }
