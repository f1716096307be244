"""`stylize up` on one machine with nothing configured: embedded Redis, API, worker, Flower.

A clean start (no warning or error line, JSON lines off a terminal), one block with the URLs
and a first key; jobs run, the worker's event heartbeats keep flowing while one runs (Flower
reports no clock drift), and bad configuration is one line that leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from celery import Celery

from cli.embedded_redis import free_port, redis_answers
from tests.support import HTTP_TIMEOUT_S, noise_png, wait_until

pytestmark = [pytest.mark.integration]

STYLIZE = [sys.executable, "-m", "cli"]
HEARTBEATS = 3  # worker-heartbeat events to see while a job runs (one every 2 s)


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a fresh machine: no STYLIZE_* or TF_* set but what the test names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STYLIZE_", "TF_CPP"))}
    return {
        **env,
        "STYLIZE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'stylize.db'}",
        "STYLIZE_STORAGE_URL": f"file://{tmp_path / 'var' / 'storage'}",
        "STYLIZE_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers: embedded
        "STYLIZE_API_PORT": str(free_port()),
        "STYLIZE_FLOWER_PORT": str(free_port()),
        "STYLIZE_VGG_WEIGHTS": "hed",
        **overrides,
    }


def ready_block(log: str) -> dict[str, str]:
    """The ``label  value`` lines ``stylize up`` prints once everything answers."""
    block = log[log.index("stylize: ready\n") :].splitlines()[1:]
    rows = [line.strip().split(maxsplit=1) for line in block if line.startswith("  ")]
    return {label: value for label, value in rows}


def assert_clean(log: str) -> None:
    """Every line is a JSON log line below WARNING, or part of the ready block."""
    noisy = []
    for line in log.splitlines():
        if line.startswith("{"):
            if json.loads(line)["level"] not in ("DEBUG", "INFO"):
                noisy.append(line)
        elif not (line.startswith("  ") or line == "stylize: ready"):
            noisy.append(line)
    assert noisy == [], "\n".join(noisy)


@contextmanager
def worker_heartbeats(broker_url: str) -> Iterator[list[float]]:
    """Local receive times of the workers' ``worker-heartbeat`` events, collected meanwhile."""
    received: list[float] = []
    app = Celery(broker=broker_url)
    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(
            connection, handlers={"worker-heartbeat": lambda _: received.append(time.monotonic())}
        )
        thread = threading.Thread(target=receiver.capture, kwargs={"wakeup": False}, daemon=True)
        thread.start()
        try:
            yield received
        finally:
            receiver.should_stop = True
            thread.join(timeout=30)


def submit(base: str, headers: dict[str, str], iterations: int, max_size: int) -> str:
    response = requests.post(
        f"{base}/v1/jobs",
        headers=headers,
        files=[
            ("content", ("c.png", noise_png(64, 48, 5))),
            ("style", ("s.png", noise_png(32, 32, 6))),
        ],
        data={"iterations": str(iterations), "max_size": str(max_size)},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 202, response.text
    return f"{base}{response.headers['Location']}"


@pytest.mark.slow
def test_up_starts_clean_runs_jobs_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    api_port = free_port()
    env = clean_env(tmp_path)
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as out:
        up = subprocess.Popen(
            [*STYLIZE, "up", "--port", str(api_port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def log() -> str:
        return log_path.read_text()

    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(
            lambda: up.poll() is not None or "Ctrl-C" in log(),
            600,
            "the ready block",
            diagnostics=lambda: log()[-4000:],
        )
        assert up.poll() is None, log()[-4000:]
        shown = ready_block(log())
        assert (shown["API"], shown["docs"]) == (base, f"{base}/docs")
        assert shown["Flower"] == f"http://127.0.0.1:{env['STYLIZE_FLOWER_PORT']}"
        assert shown["keys"] == "stylize keys create NAME"
        assert requests.get(f"{shown['Flower']}/healthcheck", timeout=HTTP_TIMEOUT_S).ok
        headers = {"Authorization": f"Bearer {shown['key'].split()[0]}"}

        second = subprocess.run(
            [*STYLIZE, "up", "--port", str(api_port)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1 and second.stderr.strip().splitlines() == [
            f"Error: stylize is already running at {base}; stop it first, or pass --port"
        ]

        job_url = submit(base, headers, iterations=4, max_size=40)
        body = wait_until(
            lambda: (
                (b := requests.get(job_url, headers=headers, timeout=HTTP_TIMEOUT_S).json())
                and b["status"] not in ("queued", "running")
                and b
            ),
            300,
            "the job's end",
            diagnostics=lambda: log()[-4000:],
        )
        assert body["status"] == "succeeded", (body, log()[-4000:])
        result = requests.get(f"{job_url}/result", headers=headers, timeout=HTTP_TIMEOUT_S)
        assert result.status_code == 200 and result.content[:8] == b"\x89PNG\r\n\x1a\n"

        with worker_heartbeats(shown["broker"].split()[0]) as heartbeats:
            long_job = submit(base, headers, iterations=2000, max_size=64)

            def running() -> bool:
                state = requests.get(long_job, headers=headers, timeout=HTTP_TIMEOUT_S).json()
                assert state["status"] in ("queued", "running"), state
                return state["status"] == "running"

            wait_until(running, 300, "the long job's start", diagnostics=lambda: log()[-4000:])
            started = time.monotonic()

            def beats_while_running() -> bool:
                return running() and sum(t > started for t in heartbeats) >= HEARTBEATS

            wait_until(
                beats_while_running,
                120,
                "worker heartbeats while a job runs",
                diagnostics=lambda: log()[-4000:],
            )
        canceled = requests.post(f"{long_job}/cancel", headers=headers, timeout=HTTP_TIMEOUT_S)
        assert canceled.status_code == 202
        wait_until(
            lambda: (
                requests.get(long_job, headers=headers, timeout=HTTP_TIMEOUT_S).json()["status"]
                == "canceled"
            ),
            120,
            "the cancel",
        )
        assert "reaper: every" in log(), "stylize up runs the reaper"
    finally:
        up.send_signal(signal.SIGINT)
        returncode = up.wait(timeout=180)
    assert returncode == 0, log()[-4000:]
    assert_clean(log())
    assert "drift" not in log().lower()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=5)
    assert not redis_answers(shown["broker"].split()[0]), "the embedded Redis stops with the stack"
    keys = subprocess.run(
        [*STYLIZE, "keys", "list"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert [line.split()[2] for line in keys.stdout.splitlines()] == ["first"]


def processes_with(marker: str) -> list[int]:
    """Ids of live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@contextmanager
def listening_socket() -> Iterator[int]:
    """A port where something accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("api_port_taken", "for the API is in use; pass --port or set STYLIZE_API_PORT"),
        ("broker_silent", "does not answer (Timeout reading from"),
        ("database_down", "(is it up? has `stylize db upgrade` run?)"),
        ("flower_open", "without a password; set STYLIZE_FLOWER_BASIC_AUTH=user:password"),
    ],
)
def test_bad_configuration_is_one_line_and_starts_nothing(
    case: str, expected: str, tmp_path: Path
) -> None:
    marker = f"STYLIZE_TEST_MARKER=up-{uuid.uuid4().hex}"
    with listening_socket() as busy:
        overrides = {
            "api_port_taken": {"STYLIZE_API_PORT": str(busy)},
            "broker_silent": {"STYLIZE_BROKER_URL": f"redis://127.0.0.1:{busy}/0"},
            "database_down": {
                "STYLIZE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
            },
            "flower_open": {"STYLIZE_FLOWER_HOST": "0.0.0.0"},
        }[case]
        env = clean_env(tmp_path, **overrides, STYLIZE_TEST_MARKER=marker.split("=")[1])
        result = subprocess.run(
            [*STYLIZE, "up"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert processes_with(marker) == [], "no process is left behind"
