"""Starting a real ``stylize worker`` (or ``webhooks``) process; waiting until it is ready."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class WorkerStartError(RuntimeError):
    """The worker exited or never became ready; the message carries its log's tail."""


def start_worker_process(
    env: dict[str, str],
    log_path: Path,
    timeout_s: float = 180.0,
    command: Sequence[str] = ("worker", "--loglevel", "INFO"),
    *,
    new_session: bool = False,
    ready_line: str = "ready.",
    wait: bool = True,
) -> subprocess.Popen[bytes]:
    """Run ``stylize <command>`` with ``env``, logging to ``log_path``; return once its log
    shows ``ready_line`` (Celery's "ready." for a worker), or at once with ``wait=False``.

    ``new_session`` makes it the leader of its own process group (``os.killpg`` reaches it all).
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    deadline = time.monotonic() + timeout_s
    while wait and ready_line not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise WorkerStartError(f"worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.1)
    return process
