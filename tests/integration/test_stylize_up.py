"""`stylize up` on one machine with nothing configured: embedded Redis, API, worker, Flower."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cli.embedded_redis import free_port, redis_answers
from tests.support import HTTP_TIMEOUT_S, noise_png, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``url`` answers 200, failing with the log if the stack dies first.

    gunicorn accepts connections before its workers have imported the app, so refused
    connections and read timeouts alike mean "not yet".
    """

    def answered() -> bool:
        if process.poll() is not None:
            pytest.fail(f"stylize up exited early:\n{log.read_text()[-4000:]}")
        return requests.get(url, timeout=HTTP_TIMEOUT_S).status_code == 200

    wait_until(answered, timeout, url, interval=0.3, diagnostics=lambda: log.read_text()[-4000:])


def test_up_runs_a_job_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    api_port, flower_port = free_port(), free_port()
    env = {
        **os.environ,
        "STYLIZE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'stylize.db'}",
        "STYLIZE_STORAGE_URL": f"file://{tmp_path / 'var' / 'storage'}",
        "STYLIZE_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers: embedded
        "STYLIZE_FLOWER_PORT": str(flower_port),
        "STYLIZE_VGG_WEIGHTS": "hed",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--port", str(api_port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_http(f"{base}/readyz", 180, up, log)
        key = (
            subprocess.run(
                [sys.executable, "-m", "cli", "keys", "create", "e2e"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        headers = {"Authorization": f"Bearer {key}"}
        response = requests.post(
            f"{base}/v1/jobs",
            headers=headers,
            files=[
                ("content", ("c.png", noise_png(40, 24, 5))),
                ("style", ("s.png", noise_png(32, 32, 6))),
            ],
            data={"iterations": "4", "max_size": "40"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert response.status_code == 202, response.text
        job_url = f"{base}{response.headers['Location']}"
        def ended() -> dict | None:
            body = requests.get(job_url, headers=headers, timeout=HTTP_TIMEOUT_S).json()
            return body if body["status"] not in ("queued", "running") else None

        body = wait_until(ended, 240, "the job's end", diagnostics=lambda: log.read_text()[-4000:])
        assert body["status"] == "succeeded", (body, log.read_text()[-4000:])
        result = requests.get(f"{job_url}/result", headers=headers, timeout=HTTP_TIMEOUT_S)
        assert result.status_code == 200 and result.content[:8] == b"\x89PNG\r\n\x1a\n"
        wait_http(f"http://127.0.0.1:{flower_port}/healthcheck", 120, up, log)
        broker = [line for line in log.read_text().splitlines() if "broker redis://" in line]
        assert broker, "stylize up names the broker it uses"
        assert "reaper: every" in log.read_text(), "stylize up runs the reaper"
    finally:
        up.send_signal(signal.SIGINT)
        returncode = up.wait(timeout=120)
    assert returncode == 0, log.read_text()[-4000:]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=1)
    embedded = broker[0].split("broker ")[1].split(")")[0]
    assert not redis_answers(embedded), "the embedded Redis stops with the stack"
