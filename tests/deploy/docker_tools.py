"""The Docker engine as the boot test uses it: the stand-ins prepared, images built and run.

Every call is the real ``docker`` command line; a failure fails the test with the command's
output, never skips it. Only ``prepare`` skips, and only when Docker cannot run at all.
"""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREPARE = Path(__file__).with_name("prepare.sh")
CANNOT_RUN = 3  # prepare.sh's exit code when Docker cannot run on this machine
LABEL = "stylize.boot-test=1"  # on every image the boot test builds; prepare.sh prunes by it


def docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``docker ARGS``; with ``check``, fail the test unless it exits 0."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def prepare() -> tuple[dict[str, str], float]:
    """Run prepare.sh: the stand-in images by variable name, and the seconds it took.

    Skips the test, with prepare.sh's own line, when Docker cannot run on this machine.
    """
    started = time.monotonic()
    result = subprocess.run([str(PREPARE)], capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    if result.returncode == CANNOT_RUN:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, f"prepare.sh exited {result.returncode}:\n{result.stderr}"
    images = dict(line.split("=", 1) for line in result.stdout.split())
    return images, seconds


@dataclass(frozen=True)
class Build:
    """One image built from a Dockerfile of the repository."""

    tag: str
    seconds: float
    log: str

    def reused(self, instruction: str) -> bool:
        """Whether the step that starts with ``instruction`` came from the cache (the step did
        not run, so the log has none of its output)."""
        step = re.search(
            rf"^Step \d+/\d+ : {re.escape(instruction)}.*\n(.*)\n", self.log, re.MULTILINE
        )
        assert step, f"{self.tag}: no step {instruction!r} in the build log"
        return step.group(1).strip() == "---> Using cache"

    @property
    def size_bytes(self) -> int:
        return int(docker("image", "inspect", "--format", "{{.Size}}", self.tag).stdout)


def build(dockerfile: str, tags: list[str], build_args: dict[str, str], log_dir: Path) -> Build:
    """``docker build`` the repository with ``dockerfile`` as every one of ``tags`` (the first
    names the ``Build``); the log is kept in ``log_dir``."""
    args = [f"--build-arg={name}={value}" for name, value in build_args.items()]
    log_path = log_dir / f"{tags[0].replace(':', '_').replace('/', '_')}.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        result = subprocess.run(
            [
                "docker",
                "build",
                *args,
                f"--label={LABEL}",
                "-f",
                dockerfile,
                *(flag for tag in tags for flag in ("-t", tag)),
                str(ROOT),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1800,
        )
    text = log_path.read_text()
    assert result.returncode == 0, f"docker build -f {dockerfile} failed:\n{text[-5000:]}"
    return Build(tags[0], time.monotonic() - started, text)


# The images the boot test builds: name -> (Dockerfile, build arguments besides the base).
IMAGES = {
    "api": ("docker/api.Dockerfile", {}),
    "worker-cpu": ("docker/worker.Dockerfile", {"ACCELERATOR": "cpu"}),
    "worker": ("docker/worker.Dockerfile", {}),  # as written: ACCELERATOR=cuda
}
CACHE_TAG = "boot-cache"  # outlives each run's own tag, so that the layers stay cached


def build_images(base: str, tag: str, log_dir: Path) -> dict[str, Build]:
    """Build every image of ``IMAGES`` on ``base`` as ``stylize-NAME:TAG`` and
    ``stylize-NAME:boot-cache``. The API builds alongside the workers; the CPU worker first,
    so that the GPU one adds its CUDA layer to the layers they share."""

    def one(name: str) -> Build:
        dockerfile, build_args = IMAGES[name]
        tags = [f"stylize-{name}:{tag}", f"stylize-{name}:{CACHE_TAG}"]
        return build(dockerfile, tags, {"BASE_IMAGE": base, **build_args}, log_dir)

    with ThreadPoolExecutor(max_workers=2) as pool:
        api = pool.submit(one, "api")
        workers = pool.submit(lambda: (one("worker-cpu"), one("worker")))
        worker_cpu, worker = workers.result()
        return {"api": api.result(), "worker-cpu": worker_cpu, "worker": worker}


def run_in(image: str, *command: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``command`` in a new container of ``image`` (removed afterwards), without failing."""
    return docker("run", "--rm", image, *command, timeout=timeout, check=False)


def remove_tags(*tags: str) -> None:
    """Untag images; an image that keeps another tag keeps its layers (the build cache)."""
    docker("rmi", *tags, check=False)
