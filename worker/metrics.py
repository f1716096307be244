"""The worker's Prometheus metrics, served on ``stylize worker --metrics-port`` (off by default).

The jobs it ends are counted by ``shared/job_end.py`` (shared/job_metrics.py); the context
records the model load.
Values live in ``PROMETHEUS_MULTIPROC_DIR`` when ``stylize worker`` sets it, so the prefork
pool's children are summed; the GPU memory in use is read at scrape time by the process
that holds the model (with the threads pool, the one serving the port).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from prometheus_client import Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.job_metrics import JOB_END_METRICS
from shared.metrics_registry import scrape_registry

log = logging.getLogger(__name__)

MODEL_LOAD = Gauge(
    "stylize_model_load_seconds",
    "Seconds the worker took to load VGG16 at start.",
    multiprocess_mode="max",
    registry=None,
)
PROCESS_METRICS = (*JOB_END_METRICS, MODEL_LOAD)


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
