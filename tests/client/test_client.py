"""The client's own logic against a scripted HTTP server on 127.0.0.1 (not the API): retries on
503 and 429 (honouring Retry-After), problem bodies, timeouts, an API that is not there, and
the SSE framing. The client against the real API and worker: tests/e2e."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from client import ApiError, ApiUnreachable, Client, FieldError, Job
from client.sse import Event, sse_events
from tests.support import QuietHTTPServer

JOB = {
    "id": "0b4d6a4e-0000-4000-8000-000000000001",
    "status": "running",
    "params": {"iterations": 10},
    "progress": {"iteration": 4, "total": 10, "percent": 40.0, "eta_s": 3.0, "warmup_s": 1.5},
    "timings": {"created_at": "2026-11-25T10:00:00+00:00"},
    "links": {"self": "/v1/jobs/0b4d6a4e-0000-4000-8000-000000000001"},
}


class Script:
    """Answers (status, headers, body, delay_s) in order; records request times and headers."""

    def __init__(self, *answers: tuple[int, dict[str, str], object, float]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        script = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                script.requests.append((time.monotonic(), self.command, dict(self.headers)))
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                status, headers, body, delay = script.answers.pop(0)
                time.sleep(delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


Serve = Callable[..., Script]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[Script] = []

    def make(*answers: tuple[int, dict[str, str], object, float]) -> Script:
        script = Script(*answers)
        servers.append(script)
        return script

    yield make
    for script in servers:
        script.server.shutdown()
        script.server.server_close()


def test_503_and_429_are_retried_with_backoff_and_retry_after(serve: Serve) -> None:
    script = serve(
        (503, {}, {"title": "Service Unavailable", "status": 503, "detail": "x"}, 0),
        (429, {"Retry-After": "1"}, {"title": "Too Many Requests", "status": 429}, 0),
        (200, {}, JOB, 0),
    )
    job = Client(script.url, "sty_k", backoff=0.05).get(JOB["id"])
    assert isinstance(job, Job) and job.progress.percent == 40.0 and not job.done
    assert job.progress.model_extra == {"warmup_s": 1.5}, "newer fields are kept"
    times = [moment for moment, _, _ in script.requests]
    assert len(times) == 3 and times[2] - times[1] >= 0.9, "Retry-After: 1 was honoured"
    assert script.requests[0][2]["Authorization"] == "Bearer sty_k"


def test_a_submit_retried_after_a_503_sends_the_same_idempotency_key(serve: Serve) -> None:
    script = serve((503, {}, {"title": "Service Unavailable", "status": 503}, 0), (202, {}, JOB, 0))
    Client(script.url, "sty_k", backoff=0.01).submit(b"content", [b"style"], iterations=10)
    keys = {headers["Idempotency-Key"] for _, _, headers in script.requests}
    assert len(script.requests) == 2 and len(keys) == 1


def test_a_problem_becomes_an_api_error_with_its_fields_in_one_line(serve: Serve) -> None:
    problem = {
        "type": "https://stylize.dev/problems/invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": "iterations: too small; style[1]: not an image",
        "errors": [
            {"field": "iterations", "message": "too small"},
            {"field": "style[1]", "message": "not an image"},
        ],
    }
    script = serve((422, {"Content-Type": "application/problem+json"}, problem, 0))
    with pytest.raises(ApiError) as raised:
        Client(script.url, "sty_k").submit(b"c", b"s", iterations=0)
    error = raised.value
    assert (error.status, error.title) == (422, "Invalid request")
    assert error.errors == [
        FieldError("iterations", "too small"),
        FieldError("style[1]", "not an image"),
    ]
    assert str(error) == "HTTP 422 Invalid request: iterations: too small; style[1]: not an image"
    assert len(script.requests) == 1, "a 422 is not retried"


def test_no_api_and_a_silent_api_raise_api_unreachable(serve: Serve) -> None:
    script = serve((200, {}, JOB, 3.0))
    with pytest.raises(ApiUnreachable, match="no answer from the Stylize API"):
        Client(script.url, "sty_k", timeout=0.5).get(JOB["id"])
    script.server.shutdown()
    script.server.server_close()
    started = time.monotonic()
    with pytest.raises(ApiUnreachable, match="is it running"):
        Client(script.url, "sty_k", retries=2, backoff=0.05).get(JOB["id"])
    assert time.monotonic() - started < 20


def test_sse_framing_skips_comments_and_joins_data_lines() -> None:
    lines = [
        ": keepalive",
        "",
        "id: 1",
        "event: status",
        'data: {"status": "running"}',
        "",
        "event: progress",
        'data: {"iteration":',
        "data: 2}",
        "",
        "data: {}",
    ]
    assert list(sse_events(lines)) == [
        Event("status", {"status": "running"}, "1"),
        Event("progress", {"iteration": 2}, "1"),
    ]
