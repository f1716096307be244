"""The registry a scrape reads: this process's metrics, or every process's under multiprocess.

``PROMETHEUS_MULTIPROC_DIR`` set (``stylize api`` and ``stylize worker --metrics-port`` set
it before anything imports prometheus_client): values are files there, summed at scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


def scrape_registry(
    process_metrics: Iterable[Collector], *scrape_time: Collector
) -> CollectorRegistry:
    """``process_metrics`` (every process's under multiprocess) plus ``scrape_time`` collectors.

    Collectors read at scrape time count once, however many processes there are.
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in process_metrics:
            registry.register(metric)
    for collector in scrape_time:
        registry.register(collector)
    return registry
