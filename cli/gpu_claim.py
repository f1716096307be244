"""Pin one worker process to one GPU: by index, or ``auto`` (claim a GPU no other worker holds).

``auto`` lists the host's GPUs by UUID (``nvidia-smi``) and takes an exclusive ``flock`` on
``CLAIMS_DIR/<uuid>.lock``; the lock lives as long as the process, so a dead worker frees its
GPU at once. Workers in containers share the directory as a volume (docker-compose.yml).
Either way ``CUDA_VISIBLE_DEVICES`` is set before TensorFlow (or JAX) is imported.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import IO

import click

DEFAULT_CLAIMS_DIR = Path("/tmp/stylize-gpu-claims")


def host_gpus() -> list[str]:
    """UUIDs of this host's NVIDIA GPUs; empty without a driver or ``nvidia-smi``."""
    if shutil.which("nvidia-smi") is None:
        return []
    listing = subprocess.run(
        ["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if listing.returncode != 0:
        return []
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def claim_gpu(gpus: list[str], claims_dir: Path) -> tuple[str, IO[str]] | None:
    """The first GPU of ``gpus`` whose lock this call could take, with the open lock file.

    Keep the file open for as long as the GPU is used; None when every GPU is taken.
    """
    claims_dir.mkdir(parents=True, exist_ok=True)
    for gpu in gpus:
        handle = (claims_dir / f"{gpu}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return gpu, handle
    return None


_held: list[IO[str]] = []  # claim files stay open (and locked) until the process exits


def pin_gpu(choice: str | None, claims_dir: Path) -> str | None:
    """Apply ``--gpu``: an index, ``auto``, or None (leave ``CUDA_VISIBLE_DEVICES`` as it is).

    Returns what was pinned, for the log; a host whose GPUs all have workers is a one-line error.
    """
    if choice is None:
        return None
    if choice != "auto":
        os.environ["CUDA_VISIBLE_DEVICES"] = choice
        return f"GPU {choice}"
    gpus = host_gpus()
    if not gpus:
        return None  # a CPU-only host: the worker runs on the CPU
    claimed = claim_gpu(gpus, claims_dir)
    if claimed is None:
        raise click.ClickException(
            f"--gpu auto: all {len(gpus)} GPUs of this host already have a worker "
            f"(claims in {claims_dir}); run fewer workers or pass --gpu INDEX"
        )
    gpu, handle = claimed
    _held.append(handle)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    return gpu
