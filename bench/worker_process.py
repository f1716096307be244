"""Starting a real ``stylize worker`` process and waiting until Celery reports it ready."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class WorkerStartError(RuntimeError):
    """The worker exited or never became ready; the message carries its log's tail."""


def start_worker_process(
    env: dict[str, str], log_path: Path, timeout_s: float = 180.0, args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Run ``stylize worker [args]`` with ``env``, logging to ``log_path``; return once ready."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--loglevel", "INFO", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while "ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise WorkerStartError(f"worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.1)
    return process
