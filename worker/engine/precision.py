"""Which arithmetic a job's VGG16 passes use: float32, or bfloat16 where the hardware is fast.

Only the network runs in bfloat16 (Keras's ``mixed_bfloat16`` policy: bfloat16 maths, float32
weights); features are cast to float32 before the Gram matrices and losses, and the image and
the optimiser's state stay float32.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import keras

DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
# CPU flags of instructions that make bfloat16 convolutions faster than float32 (oneDNN).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def resolve(requested: str, optimizer: str) -> str:
    """``float32`` or ``bfloat16``: ``auto`` picks bfloat16 for Adam where it is fast here.

    L-BFGS stays float32: its line search compares loss values that bfloat16 makes too noisy
    (measured: at 32 px it accepted no step at all).
    """
    if requested != "auto":
        return requested
    return "bfloat16" if optimizer == "adam" and bfloat16_is_fast() else "float32"


def memory_figures(arithmetic: str) -> str:
    """Whose measured memory figures plan a job run in ``arithmetic`` (shared/memory_model.py):
    bfloat16's were measured where it runs natively; emulated, it is planned as float32."""
    return arithmetic if arithmetic == "float32" or bfloat16_is_fast() else "float32"


@cache
def bfloat16_is_fast() -> bool:
    """True on GPUs with bfloat16 tensor cores (compute capability 8.0+) and on CPUs with
    AVX512-BF16 or AMX when there is no GPU."""
    gpu = _gpu_compute_capability()
    if gpu is not None:
        return gpu >= (8, 0)
    return bool(_cpu_flags() & BF16_CPU_FLAGS)


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    return {
        flag
        for line in text.splitlines()
        if line.startswith("flags")
        for flag in line.split(":", 1)[1].split()
    }


def _gpu_compute_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability, or None without a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        details = tf.config.experimental.get_device_details(gpus[0])
        return tuple(details.get("compute_capability", (0, 0)))  # type: ignore[return-value]
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            return None
        major, _, minor = str(getattr(gpus[0], "compute_capability", "0.0")).partition(".")
        return int(major), int(minor or 0)
    return None
