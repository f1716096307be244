"""How much memory one job may use on this worker: ``STYLIZE_WORKER_MEMORY_MB``, or detected.

Detected: the GPU's memory when there is a GPU (read through the Keras backend: JAX's
allocator limit, or ``nvidia-smi`` for TensorFlow), else the machine's RAM or its container's
(cgroup) limit, whichever is smaller; less what this process already holds (the loaded model and
runtime; on a GPU a fixed allowance for the weights) and a safety margin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from shared.settings import Settings

MARGIN_SHARE = 0.1  # of the detected total, kept free for everything else
MIN_MARGIN_MB = 512
GPU_MODEL_MB = 256  # VGG16's weights on the GPU (float32 and a bfloat16 copy), rounded up
UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge number


def worker_budget_mb(settings: Settings) -> int:
    """``STYLIZE_WORKER_MEMORY_MB`` when set, else the detected budget (at least 1 MB)."""
    if settings.worker_memory_mb is not None:
        return settings.worker_memory_mb
    gpu = gpu_memory_mb()
    if gpu is not None:
        total, held = gpu, GPU_MODEL_MB
    else:
        total, held = ram_mb(), process_rss_mb()
    margin = max(MIN_MARGIN_MB, MARGIN_SHARE * total)
    return max(1, int(total - held - margin))


def ram_mb(meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """The machine's RAM, or its container's memory limit when that is lower (cgroup v2 or v1)."""
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
    total = int(match.group(1)) / 1024 if match else float("inf")
    for limit_file in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < UNLIMITED:
            total = min(total, int(text) / 2**20)
    return total


def process_rss_mb(status: Path = Path("/proc/self/status")) -> float:
    """What this process holds now (VmRSS), MB."""
    match = re.search(r"^VmRSS:\s+(\d+) kB", status.read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def gpu_memory_mb() -> float | None:
    """The first GPU's memory, MB, through the Keras backend; None without a GPU."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        if not gpus:
            return None
        stats = gpus[0].memory_stats() or {}
        limit = stats.get("bytes_limit")
        return limit / 2**20 if limit else None
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU") or shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(
        ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    first = done.stdout.strip().splitlines()[:1]
    return float(first[0]) if done.returncode == 0 and first else None
