"""``stylize bench api``: status polls, job listings and submits against one real API process.

One gunicorn process (``stylize api --workers 1``, as ``stylize up`` and compose run it) on a
scratch PostgreSQL database and the configured Redis; wrk (one thread) keeps a fixed number of
connections busy. Polls read a running job with live progress in Redis, listings the newest 20
of the key's jobs, submits upload two real photos (multipart, built once and sent by wrk every
time). With ``streams``, that many event streams of the running job are held open on each API
process for the whole run (what many open browser tabs do). Each configuration gets its own
API process; all are measured in one run, endpoint by endpoint, so a comparison shares the
machine's state.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.stack import CHECKOUT, BenchStack, bench_stack, revision_checkout
from bench.wrk import multipart_body, run_wrk, wrk_path
from shared.db import job_store
from shared.db.session import session_factory
from shared.job_events import progress_event
from shared.job_moves import claim_job
from shared.params import JobParams
from shared.progress_channel import ProgressChannel

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SUBMIT_PARAMS = {"iterations": 2, "max_size": 64}
ENDPOINTS = ("poll", "list", "submit")
# What a configuration that does not answer at all gets in the table.
NO_ANSWER = {
    "requests": 0,
    "requests_per_s": 0.0,
    "p50_ms": float("nan"),
    "p99_ms": float("nan"),
    "max_ms": float("nan"),
    "errors": "no answer",
}
# The bench's one key may hold every stream (the per-key cap is tested, not benchmarked).
STREAM_CAP_LIFTED = {"STYLIZE_EVENTS_PER_KEY": "100000"}


@dataclass(frozen=True)
class Config:
    """One API configuration: a label, the environment it adds to the API process and the
    git revision whose code it runs (None: this checkout)."""

    label: str
    env: Mapping[str, str]
    revision: str | None = None


def parse_config(items: Sequence[str], revision: str | None = None) -> Config:
    """``NAME=VALUE`` environment overrides (``STYLIZE_`` added when missing, except to
    ``GUNICORN_CMD_ARGS``, gunicorn's own) and a git revision as a Config."""
    env: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{item!r}: use NAME=VALUE, e.g. STYLIZE_AUTH_CACHE_S=0")
        name = name.upper()
        env[name if name.startswith(("STYLIZE_", "GUNICORN_")) else f"STYLIZE_{name}"] = value
    label = " ".join([*(f"{k}={v}" for k, v in env.items()), *filter(None, [revision])])
    return Config(label or "this checkout", env, revision)


def seed_jobs(stack: BenchStack, jobs: int) -> uuid.UUID:
    """``jobs`` queued jobs for listings and one running job with live progress: its id."""
    params = JobParams(**SUBMIT_PARAMS)
    with session_factory(stack.settings.database_url)() as session:
        for _ in range(jobs):
            job_id = uuid.uuid4()
            job_store.create_job(
                session,
                job_id=job_id,
                owner_id=stack.key_id,
                params=params,
                content_key=f"bench/{job_id}/content.png",
                style_keys=[f"bench/{job_id}/s.png"],
                max_attempts=1,
            )
        claim_job(session, job_id, "bench@host", 1)
    channel = ProgressChannel.from_url(stack.settings.broker_url)
    losses = {"content": 1.5, "style": 2.5, "tv": 0.1, "total": 4.1}
    channel.publish(str(job_id), progress_event(1, 2, losses, 120.0, 0.3))
    return job_id


def submit_body() -> tuple[bytes, str]:
    """The multipart body of one submit: the chelsea photo, the hubble style, params."""
    content = (EXAMPLES / "content-chelsea.jpg").read_bytes()
    style = (EXAMPLES / "style-hubble.jpg").read_bytes()
    return multipart_body(
        [
            ("content", "content.jpg", content, "image/jpeg"),
            ("style", "style.jpg", style, "image/jpeg"),
            ("params", "", json.dumps(SUBMIT_PARAMS).encode(), ""),
        ]
    )


@contextlib.contextmanager
def held_streams(base: str, path: str, headers: Mapping[str, str], count: int) -> Iterator[None]:
    """``count`` event streams of ``path`` open on the API at ``base`` while the block runs.

    The requests are sent without waiting for their answers, as browsers do: an API that
    holds a thread per stream simply stops answering once its threads are taken.
    """
    host, port = base.removeprefix("http://").split(":")
    request = "".join(
        [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"]
        + [f"{name}: {value}\r\n" for name, value in headers.items()]
        + ["Accept: text/event-stream\r\n\r\n"]
    ).encode()
    with contextlib.ExitStack() as streams:
        for _ in range(count):
            sock = streams.enter_context(socket.create_connection((host, int(port)), timeout=10))
            sock.sendall(request)
        time.sleep(1.0)  # the server takes them in
        yield


def check_endpoint(url: str, headers: Mapping[str, str], body: tuple[bytes, str] | None) -> None:
    """One request before the load: a refused one would make the figures meaningless."""
    if body is None:
        response = requests.get(url, headers=headers, timeout=30)
    else:
        response = requests.post(
            url, headers={**headers, "Content-Type": body[1]}, data=body[0], timeout=30
        )
    if response.status_code >= 400:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")


def run_api_bench(
    configs: Sequence[Config],
    connections: int,
    seconds: float,
    warmup_s: float,
    postgres_url: str | None,
    listed_jobs: int = 200,
    streams: int = 0,
) -> dict[str, object]:
    """Every endpoint under every configuration, with ``streams`` event streams held open on
    each API process; a JSON-ready dict."""
    wrk_path()  # missing wrk fails before anything starts
    with tempfile.TemporaryDirectory(prefix="stylize-bench-api-") as tmp:
        workdir = Path(tmp)
        with bench_stack(workdir, postgres_url) as stack, contextlib.ExitStack() as exports:
            polled = seed_jobs(stack, listed_jobs)
            bases = []
            for n, config in enumerate(configs):
                checkout = CHECKOUT
                if config.revision is not None:
                    checkout = exports.enter_context(revision_checkout(config.revision, workdir))
                env = {**STREAM_CAP_LIFTED, **config.env} if streams else config.env
                bases.append(stack.start_api(env, f"api-{n}", checkout))
            for base in bases:
                exports.enter_context(
                    held_streams(base, f"/v1/jobs/{polled}/events", stack.headers, streams)
                )
            targets = {
                "poll": (f"/v1/jobs/{polled}", None),
                "list": ("/v1/jobs?limit=20", None),
                "submit": ("/v1/jobs", submit_body()),
            }
            results: list[dict[str, object]] = [
                {"label": config.label, "env": dict(config.env), "revision": config.revision}
                for config in configs
            ]
            for endpoint in ENDPOINTS:
                path, body = targets[endpoint]
                for base, row in zip(bases, results, strict=True):
                    url = base + path
                    try:
                        check_endpoint(url, stack.headers, body)
                    except requests.RequestException:  # starved (held streams): nothing served
                        row[endpoint] = NO_ANSWER
                        continue
                    if warmup_s > 0:
                        run_wrk(url, connections, warmup_s, workdir, stack.headers, body)
                    result = run_wrk(url, connections, seconds, workdir, stack.headers, body)
                    row[endpoint] = result.as_dict()
    return {
        "database": "sqlite" if postgres_url is None else "postgresql",
        "api": "gunicorn, 1 process",
        "connections": connections,
        "streams": streams,
        "seconds": seconds,
        "listed_jobs": listed_jobs,
        "configs": results,
    }
