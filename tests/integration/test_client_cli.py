"""`stylize submit` and `stylize jobs` against the API served over real HTTP, a real worker."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.integration.conftest import Stack
from tests.support import noise_png

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def api_url(stack: Stack) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def stylize(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=180
    )


def test_submit_wait_download_and_jobs_commands(stack: Stack, api_url: str, tmp_path: Path) -> None:
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    content.write_bytes(noise_png(36, 24, 7))
    style.write_bytes(noise_png(24, 24, 8))
    out = tmp_path / "out.jpg"
    auth = ["--url", api_url, "--key", key]
    done = stylize(
        "submit",
        str(content),
        str(style),
        "-o",
        str(out),
        "--iterations",
        "3",
        "--preserve-color",
        *auth,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).format == "JPEG" and Image.open(out).size == (36, 24)
    job_id = __import__("json").loads(done.stdout.strip().splitlines()[-1])["id"]

    listed = stylize("jobs", "list", *auth)
    assert job_id in listed.stdout and "succeeded" in listed.stdout
    assert '"preserve_color": true' in stylize("jobs", "show", job_id, *auth).stdout
    refused = stylize("jobs", "cancel", job_id, *auth)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: HTTP 409: the job already ended (succeeded); nothing to cancel"
    ]

    bad_key = stylize("jobs", "list", "--url", api_url, "--key", "sty_nope")
    assert bad_key.returncode == 1 and "HTTP 401" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr
    bad_param = stylize("submit", str(content), str(style), "--iterations", "0", *auth)
    assert bad_param.returncode != 0 and "iterations" in bad_param.stderr
