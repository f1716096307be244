"""``GET /metrics`` (Prometheus text format) and the per-request measurements behind it.

Counters and histograms are per process; under gunicorn they live in files in
``PROMETHEUS_MULTIPROC_DIR`` (``stylize api`` sets it) and every scrape sums all workers.
Queue depth (Redis) and jobs by status (SQL) are read at scrape time by one collector, so
they are counted once however many API processes there are.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from api.db import api_sessions
from api.errors import ApiProblem
from shared.db import job_store
from shared.db.job import JobStatus
from shared.job_metrics import JOB_END_METRICS
from shared.job_objects import stored_bytes
from shared.metrics_registry import scrape_registry

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

HTTP_REQUESTS = Counter(
    "stylize_http_requests_total",
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
    registry=None,
)
HTTP_LATENCY = Histogram(
    "stylize_http_request_duration_seconds",
    "Time to the response's headers (an SSE stream counts until its headers), by route.",
    ["route", "method"],
    registry=None,
)
JOBS_SUBMITTED = Counter(
    "stylize_jobs_submitted_total", "Jobs accepted by POST /v1/jobs (202).", registry=None
)
HELD_STREAMS = Gauge(
    "stylize_held_streams",
    "Event streams and Prefer: wait requests held open now.",
    multiprocess_mode="livesum",
    registry=None,
)
PROCESS_METRICS = (HTTP_REQUESTS, HTTP_LATENCY, JOBS_SUBMITTED, HELD_STREAMS, *JOB_END_METRICS)


class JobStateCollector(Collector):
    """Queue depth per queue (Redis ``LLEN``) and jobs by status (SQL), read at scrape time."""

    def __init__(
        self, sessions: sessionmaker[Session], queue_lengths: Callable[[], dict[str, int]]
    ) -> None:
        self._sessions = sessions
        self._queue_lengths = queue_lengths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "stylize_queue_depth", "Messages waiting in each broker queue.", labels=["queue"]
        )
        try:
            for queue, length in self._queue_lengths().items():
                depth.add_metric([queue], length)
        except Exception:  # a scrape must still answer; the gap shows the outage
            log.warning("queue depth unavailable", exc_info=True)
        yield depth
        jobs = GaugeMetricFamily(
            "stylize_jobs", "Jobs in the database by status.", labels=["status"]
        )
        try:
            with self._sessions() as session:
                counts = job_store.count_jobs_by_status(session)
            for status in JobStatus:
                jobs.add_metric([status.value], counts.get(status, 0))
        except Exception:
            log.warning("job counts unavailable", exc_info=True)
        yield jobs
        used = GaugeMetricFamily(
            "stylize_storage_bytes", "Bytes of job images in storage (inputs, previews, results)."
        )
        try:
            with self._sessions() as session:
                used.add_metric([], stored_bytes(session))
        except Exception:
            log.warning("storage use unavailable", exc_info=True)
        yield used


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format; with STYLIZE_METRICS_TOKEN set, only for that bearer token."""
    token = current_app.config["STYLIZE"].metrics_token
    if token is not None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise ApiProblem(
                401,
                "Unauthorized",
                "send 'Authorization: Bearer <STYLIZE_METRICS_TOKEN>' to read the metrics",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    registry = current_app.extensions["stylize_metrics_registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    started = g.get("metrics_started")
    if started is not None:
        HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if request.endpoint == "jobs.submit" and response.status_code == 202:
        JOBS_SUBMITTED.inc()
    return response


def init_app(app: Flask, queue_lengths: Callable[[], dict[str, int]]) -> None:
    """Measure every request and serve ``/metrics`` with the job-state collector."""
    settings = app.config["STYLIZE"]
    collector = JobStateCollector(api_sessions(settings), queue_lengths)
    app.extensions["stylize_metrics_registry"] = scrape_registry(PROCESS_METRICS, collector)
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
