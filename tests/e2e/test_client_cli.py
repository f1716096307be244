"""The Python client, `stylize submit` and `stylize jobs` against the API over real HTTP and a
real worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from api import create_app
from client import ApiError, Client, Progress
from tests.support import noise_png, wait_until
from tests.support.stack import Stack, served

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
        "Error: HTTP 409 Conflict: the job already ended (succeeded); nothing to cancel"
    ]

    bad_key = stylize("jobs", "list", "--url", api_url, "--key", "sty_nope")
    assert bad_key.returncode == 1 and "HTTP 401" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr
    bad_param = stylize("submit", str(content), str(style), "--iterations", "0", *auth)
    assert bad_param.returncode == 1 and "Traceback" not in bad_param.stderr
    [line] = bad_param.stderr.strip().splitlines()
    assert line.startswith("Error: HTTP 422 Invalid request: iterations: ")


SQLITE_ONLY = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # HTTP, not the DB
PROGRESS_LINE = re.compile(
    r"job [0-9a-f]{8}: (\d+) % \(iteration (\d+)/(\d+), ETA (\d+ s|unknown)\)"
)


@SQLITE_ONLY
def test_python_client_submits_follows_and_downloads(
    stack: Stack, api_url: str, tmp_path: Path
) -> None:
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    seen: list[Progress] = []
    with Client(api_url, key) as stylize:
        job = stylize.submit(
            noise_png(40, 24, 3), [noise_png(24, 24, 4)], iterations=8, max_size=40, preview_every=4
        )
        assert job.status == "queued" and job.params["iterations"] == 8
        final = stylize.wait(job, on_progress=seen.append, timeout=300)
        assert final.status == "succeeded" and final.done, final
        iterations = [progress.iteration for progress in seen]
        assert iterations == sorted(iterations) and iterations[-1] == 8
        assert seen[-1].percent == 100.0
        written = stylize.download(final, tmp_path / "out.png")
        assert Image.open(written).size == (40, 24)
        assert stylize.preview(final)[:8] == b"\x89PNG\r\n\x1a\n"
        assert final.id in [listed.id for listed in stylize.list(limit=5).jobs]
        with pytest.raises(ApiError) as refused:
            stylize.cancel(final)
        assert refused.value.status == 409 and "already ended" in refused.value.detail
        with pytest.raises(ApiError) as bad:
            stylize.submit(b"not an image", [noise_png(24, 24, 4)], iterations=0)
        assert bad.value.status == 422
        assert {error.field for error in bad.value.errors} == {"iterations"}, "params first"
        assert "\n" not in str(bad.value) and "iterations:" in str(bad.value)


@SQLITE_ONLY
def test_wait_falls_back_to_polling_when_live_events_are_down(stack: Stack, api_url: str) -> None:
    """A second API on the same DB whose Redis is gone: no event stream, polling still works."""
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    no_redis = stack.settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with Client(api_url, key) as stylize:
        job = stylize.submit(
            noise_png(32, 24, 5), [noise_png(24, 24, 6)], iterations=6, max_size=32
        )
    seen: list[Progress] = []
    with served(create_app(no_redis)) as degraded_url, Client(degraded_url, key) as degraded:
        no_stream = requests.get(
            f"{degraded_url}/v1/jobs/{job.id}/events", headers=stack.headers, timeout=10
        )
        assert no_stream.status_code == 503, no_stream.text
        started = time.monotonic()
        final = degraded.wait(job, on_progress=seen.append, timeout=300, poll_interval=0.2)
        waited_s = time.monotonic() - started
    assert final.status == "succeeded" and seen[-1].iteration == 6
    # the refused stream is not asked for again (its Retry-After: 5, four times): polled at once
    assert waited_s < 10, f"the wait took {waited_s:.1f} s for a 6-iteration job"


@SQLITE_ONLY
def test_without_a_terminal_submit_prints_a_progress_line_per_tenth(
    stack: Stack, api_url: str, tmp_path: Path
) -> None:
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    content.write_bytes(noise_png(32, 24, 7))
    style.write_bytes(noise_png(24, 24, 8))
    done = stylize(
        "submit",
        str(content),
        str(style),
        "--wait",
        "--iterations",
        "20",
        "--max-size",
        "32",
        "--url",
        api_url,
        "--key",
        key,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    matches = [PROGRESS_LINE.fullmatch(line) for line in lines]
    assert lines and all(matches), lines
    percents = [int(match.group(1)) for match in matches if match]
    assert percents == sorted(set(percents)) and percents[-1] == 100, lines
    assert len(lines) <= 11 and {match.group(3) for match in matches if match} == {"20"}


@SQLITE_ONLY
def test_ctrl_c_while_waiting_asks_and_cancels_the_job(
    stack: Stack, api_url: str, tmp_path: Path
) -> None:
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    content.write_bytes(noise_png(64, 48, 9))
    style.write_bytes(noise_png(32, 32, 10))
    err = tmp_path / "stderr.txt"
    with err.open("w") as stderr:
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "submit",
                str(content),
                str(style),
                "--wait",
                "--iterations",
                "3000",
                "--max-size",
                "64",
                "--url",
                api_url,
                "--key",
                key,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
            # as from a terminal: a suite started in the background (CI, `cmd &`) has SIGINT
            # ignored, children inherit that, and Python then installs no Ctrl-C handler
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_until(
            lambda: PROGRESS_LINE.search(err.read_text()),
            240,
            "a progress line",
            diagnostics=lambda: err.read_text(),
        )
        waiting.send_signal(signal.SIGINT)
        try:
            waiting.communicate("y\n", timeout=120)
        except subprocess.TimeoutExpired:
            waiting.send_signal(signal.SIGABRT)  # faulthandler prints where it hangs
            waiting.wait(timeout=30)
            pytest.fail(f"no exit 120 s after Ctrl-C; its stderr:\n{err.read_text()}")
    finally:
        if waiting.poll() is None:
            waiting.kill()
    said = err.read_text()
    assert waiting.returncode == 130, said
    assert "Cancel job" in said and "cancel sent" in said and "Traceback" not in said
    job_id = re.search(r"Cancel job ([0-9a-f-]{36})", said).group(1)  # type: ignore[union-attr]
    final = stack.wait_for(job_id, {"canceled", "succeeded", "failed"})
    assert final["status"] == "canceled"
