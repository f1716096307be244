"""Load the engine's backend (Keras with TensorFlow or JAX) without its start-up noise.

TensorFlow writes lines to file descriptor 2 from C++ before its own log level applies
(``WARNING: All log messages before absl::InitializeLog()``, oneDNN and CPU-feature notes,
and on a host without an NVIDIA driver ``E0000 ... failed call to cuInit``). None asks
anything of an operator, so those lines are dropped; every other line is written through.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOISE = (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions:",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
)
NOISE_WITHOUT_DRIVER = (
    r"failed call to cuInit",
    r"CUDA diagnostic",
    r"kernel driver does not appear to be running",
)


def nvidia_driver_present() -> bool:
    """True when an NVIDIA kernel driver is loaded (a GPU may be used)."""
    return Path("/proc/driver/nvidia/version").exists()


@contextmanager
def native_stderr_without(noise: re.Pattern[str]) -> Iterator[None]:
    """Capture what anything (C++ included) writes to fd 2; write back the lines not ``noise``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                os.write(2, kept.encode())


@contextmanager
def backend_noise_dropped() -> Iterator[None]:
    """Around the import of the backend and the model's first build: the noise above dropped.

    TensorFlow's later C++ log shows warnings and errors (``TF_CPP_MIN_LOG_LEVEL`` 2 unless set).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    patterns = NOISE if nvidia_driver_present() else NOISE + NOISE_WITHOUT_DRIVER
    with native_stderr_without(re.compile("|".join(patterns))):
        yield
