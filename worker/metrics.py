"""The worker's Prometheus metrics, served on ``stylize worker --metrics-port`` (off by default).

The task calls ``record_job_end`` once per job it ends; the context records the model load.
Values live in ``PROMETHEUS_MULTIPROC_DIR`` when ``stylize worker`` sets it, so the prefork
pool's children are summed; the GPU memory in use is read at scrape time by the process
that holds the model (with the threads pool, the one serving the port).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.db.job import Job
from shared.metrics_registry import scrape_registry

log = logging.getLogger(__name__)

# Jobs take seconds on a GPU and minutes to hours on a CPU.
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, float("inf"))
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf"))
RATE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, float("inf"))

JOBS_FINISHED = Counter(
    "stylize_jobs_finished_total",
    "Jobs this worker ended, by status and failure code (empty unless failed).",
    ["status", "failure_code"],
    registry=None,
)
JOB_DURATION = Histogram(
    "stylize_job_duration_seconds",
    "Time from claim to end of a job, by status.",
    ["status"],
    buckets=DURATION_BUCKETS,
    registry=None,
)
QUEUE_WAIT = Histogram(
    "stylize_job_queue_wait_seconds",
    "Time from submit to claim of a job.",
    buckets=WAIT_BUCKETS,
    registry=None,
)
ITERATIONS_PER_SECOND = Histogram(
    "stylize_job_iterations_per_second",
    "Optimisation speed of each job that ran iterations.",
    buckets=RATE_BUCKETS,
    registry=None,
)
MODEL_LOAD = Gauge(
    "stylize_model_load_seconds",
    "Seconds the worker took to load VGG16 at start.",
    multiprocess_mode="max",
    registry=None,
)
PROCESS_METRICS = (JOBS_FINISHED, JOB_DURATION, QUEUE_WAIT, ITERATIONS_PER_SECOND, MODEL_LOAD)


def record_job_end(job: Job) -> None:
    """Count the ended ``job`` and observe its duration, queue wait and speed."""
    JOBS_FINISHED.labels(job.status, job.error_code or "").inc()
    if job.started_at is not None:
        QUEUE_WAIT.observe((job.started_at - job.created_at).total_seconds())
        if job.finished_at is not None:
            JOB_DURATION.labels(job.status).observe(
                (job.finished_at - job.started_at).total_seconds()
            )
    metrics = job.metrics or {}
    if metrics.get("iterations") and metrics.get("seconds"):
        ITERATIONS_PER_SECOND.observe(metrics["iterations"] / metrics["seconds"])


def record_model_load(seconds: float) -> None:
    """Record how long loading the model took."""
    MODEL_LOAD.set(seconds)


class GpuMemoryCollector(Collector):
    """Bytes of GPU memory the engine's backend holds in this process, per GPU.

    Reads only a backend the engine already imported; nothing on a machine without a GPU.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "stylize_gpu_memory_bytes", "GPU memory in use by this worker.", labels=["device"]
        )
        try:
            for device, used in gpu_memory_in_use().items():
                family.add_metric([device], used)
        except Exception:  # a scrape must still answer
            log.warning("GPU memory unavailable", exc_info=True)
        yield family


def gpu_memory_in_use() -> dict[str, int]:
    """Bytes in use per GPU, from TensorFlow's or JAX's allocator, whichever is loaded."""
    used: dict[str, int] = {}
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        for gpu in tf.config.list_logical_devices("GPU"):
            used[gpu.name] = tf.config.experimental.get_memory_info(gpu.name)["current"]
    jax = sys.modules.get("jax")
    if jax is not None:
        for device in jax.devices():
            if device.platform == "gpu":
                used[str(device)] = (device.memory_stats() or {}).get("bytes_in_use", 0)
    return used


def serve(port: int) -> None:
    """Serve this worker's metrics on ``port`` (all interfaces) from a background thread."""
    start_http_server(port, registry=scrape_registry(PROCESS_METRICS, GpuMemoryCollector()))
