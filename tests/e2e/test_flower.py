"""`stylize flower`: a password when STYLIZE_FLOWER_BASIC_AUTH is set, and none beyond loopback
without one. Flower's /healthcheck (and /metrics) stay open upstream, as README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cli.embedded_redis import free_port
from tests.support import HTTP_TIMEOUT_S, wait_until

pytestmark = [pytest.mark.integration]

STYLIZE = [sys.executable, "-m", "cli"]
BROKER = "redis://127.0.0.1:6379/12"


def test_flower_asks_for_the_configured_password(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STYLIZE_BROKER_URL": BROKER,
        "STYLIZE_FLOWER_PORT": str(port),
        "STYLIZE_FLOWER_BASIC_AUTH": "ops:s3cret-pw",
    }
    log = tmp_path / "flower.log"
    with log.open("wb") as out:
        flower = subprocess.Popen([*STYLIZE, "flower"], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: requests.get(f"{base}/healthcheck", timeout=HTTP_TIMEOUT_S).ok,
            120,
            "Flower",
            diagnostics=lambda: log.read_text()[-3000:],
        )
        assert requests.get(f"{base}/", timeout=HTTP_TIMEOUT_S).status_code == 401
        wrong = requests.get(f"{base}/", auth=("ops", "guess"), timeout=HTTP_TIMEOUT_S)
        assert wrong.status_code == 401
        right = requests.get(f"{base}/", auth=("ops", "s3cret-pw"), timeout=HTTP_TIMEOUT_S)
        assert right.status_code == 200 and "Flower" in right.text
        assert requests.get(f"{base}/metrics", timeout=HTTP_TIMEOUT_S).status_code == 200
    finally:
        flower.terminate()
        flower.wait(timeout=60)
    assert "s3cret-pw" not in log.read_text()


def test_flower_refuses_to_listen_beyond_loopback_without_a_password() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STYLIZE_FLOWER_BASIC_AUTH"}
    result = subprocess.run(
        [*STYLIZE, "flower", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: Flower would listen on 0.0.0.0 without a password; set "
        "STYLIZE_FLOWER_BASIC_AUTH=user:password or STYLIZE_FLOWER_HOST=127.0.0.1"
    ]
