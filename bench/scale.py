"""``stylize bench scale``: the same small jobs with 1, then 2 worker processes on this machine,
and the arithmetic for N GPU hosts.

Real parts: one gunicorn API process, a scratch database, the configured Redis and
``stylize worker`` processes (one job at a time each, as on a GPU host). The jobs are sent
over HTTP all at once; the clock runs from the first submit to the last job's end. Workers
are started (and their model loaded and traced) before the clock starts; a larger count keeps
the workers already running and adds the rest. Each count gets images of its own, of the same
size, so that no worker finds the style statistics already in its cache.

Why N GPU hosts scale linearly and two workers here do not: a job's cost is the
optimisation, and each GPU host brings its own GPU for it; the hub's share of a job (API,
PostgreSQL, Redis) is milliseconds (``stylize bench queue``). On this CPU-only box both
workers share the same cores, so a second worker can at best fill the gaps the first leaves
(reading inputs, storing results, database writes), not double the work done.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.queue import EndEvents, as_utc, tiny_png
from bench.stack import BenchStack, bench_stack
from shared.db.session import session_factory


def jobs_per_minute(jobs: int, seconds: float) -> float:
    """Throughput of ``jobs`` done in ``seconds``."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    return 60.0 * jobs / seconds


def projection(
    per_host: float, hosts: Sequence[int], hub_jobs_per_min: float | None = None
) -> list[dict[str, object]]:
    """Jobs per minute of N GPU hosts, each doing ``per_host``: N x per_host, capped by what
    the hub accepts (``hub_jobs_per_min``, e.g. 60 x the submits/s of ``bench api``)."""
    rows: list[dict[str, object]] = []
    for count in hosts:
        linear = count * per_host
        capped = hub_jobs_per_min is not None and linear > hub_jobs_per_min
        shown = hub_jobs_per_min if capped and hub_jobs_per_min is not None else linear
        rows.append(
            {
                "hosts": count,
                "jobs_per_min": round(shown, 1),
                "limited_by": "hub" if capped else "gpus",
            }
        )
    return rows


def run_batch(
    stack: BenchStack, api_url: str, jobs: int, params: dict[str, object], seed: int
) -> dict[str, float]:
    """Send ``jobs`` jobs at once; seconds from the first submit to the last end."""
    sessions = session_factory(stack.settings.database_url)
    events = EndEvents(stack.settings.broker_url)
    ids: list[str] = []
    try:
        with requests.Session() as http:
            started = datetime.now(UTC)
            for n in range(jobs):
                files = [
                    ("content", ("c.png", tiny_png(seed + n, 96), "image/png")),
                    ("style", ("s.png", tiny_png(seed + n + 100_000, 96), "image/png")),
                ]
                response = http.post(
                    f"{api_url}/v1/jobs",
                    headers=stack.headers,
                    files=files,
                    data={"params": json.dumps(params)},
                    timeout=30,
                )
                if response.status_code != 202:
                    raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
                ids.append(response.json()["id"])
            rows = [events.wait(job_id, sessions) for job_id in ids]
    finally:
        events.close()
    failed = [row for row in rows if row.status != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not succeed: {failed[0].error_message}")
    ended = max(as_utc(row.finished_at) for row in rows if row.finished_at is not None)
    seconds = (ended - started).total_seconds()
    workers = sorted({row.worker or "?" for row in rows})
    return {
        "jobs": jobs,
        "seconds": round(seconds, 2),
        "jobs_per_min": round(jobs_per_minute(jobs, seconds), 2),
        "workers_used": len(workers),
    }


def run_scale_bench(
    jobs: int,
    worker_counts: Sequence[int],
    size: int,
    iterations: int,
    postgres_url: str | None,
    hosts: Sequence[int],
    per_host_jobs_per_min: float | None,
    hub_submits_per_s: float | None,
) -> dict[str, object]:
    """Each worker count in turn on the same jobs; a JSON-ready dict with the projection."""
    params = {"iterations": iterations, "max_size": size, "preview_every": 0}
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="stylize-bench-scale-") as tmp:
        workdir = Path(tmp)
        with bench_stack(workdir, postgres_url) as stack:
            api_url = stack.start_api()
            for count in worker_counts:
                if len(stack.workers) > count:
                    stack.stop_workers()
                started = len(stack.workers)
                for n in range(started + 1, count + 1):
                    stack.start_worker(f"scale-{n}")
                # one job per new worker first: each traces its step for this image shape
                if count > started:
                    run_batch(stack, api_url, count, params, 0)
                batch = run_batch(stack, api_url, jobs, params, 1000 * count)
                results.append({"workers": count, **batch})
    first, last = results[0], results[-1]
    measured = float(first["jobs_per_min"]) / int(first["workers"])  # type: ignore[call-overload]
    per_host = per_host_jobs_per_min or measured
    hub = None if hub_submits_per_s is None else 60.0 * hub_submits_per_s
    speedup = float(last["jobs_per_min"]) / float(first["jobs_per_min"])  # type: ignore[arg-type]
    return {
        "jobs": jobs,
        "params": params,
        "database": "sqlite" if postgres_url is None else "postgresql",
        "runs": results,
        "speedup": round(speedup, 3),
        "projection_per_host_jobs_per_min": round(per_host, 2),
        "hub_jobs_per_min": hub,
        "projection": projection(per_host, hosts, hub),
    }
