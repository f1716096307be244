"""The Docker engine as the boot test uses it: the stand-ins prepared, images built and run.

Every call is the real ``docker`` command line; a failure fails the test with the command's
output, never skips it. Only ``prepare`` skips, and only when Docker cannot run at all.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREPARE = Path(__file__).with_name("prepare.sh")
CANNOT_RUN = 3  # prepare.sh's exit code when Docker cannot run on this machine
LABEL = "stylize.boot-test=1"  # on every image the boot test builds; prepare.sh prunes by it
WARM_TAG = "boot-warm"  # the warm-up's own tag (tests/deploy/warm_cache.py), removed after it
WARM_LOGS = Path(tempfile.gettempdir()) / "stylize-boot-warm"  # the warm-up's build logs


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

    def step(self, instruction: str) -> tuple[str | None, str]:
        """The output of the step that starts with ``instruction`` (None where the step came
        from the cache and did not run) and the layer it left."""
        found = re.search(
            rf"^Step \d+/\d+ : {re.escape(instruction)}.*\n((?:(?!Step \d+/\d+ : ).*\n?)*)",
            self.log,
            re.MULTILINE,
        )
        assert found, f"{self.tag}: no step {instruction!r} in the build log"
        body = found.group(1)
        layers = re.findall(r"^ ---> ([0-9a-f]{12})$", body, re.MULTILINE)
        assert layers, f"{self.tag}: the step {instruction!r} left no layer:\n{body[-2000:]}"
        return (None if body.startswith(" ---> Using cache") else body), layers[-1]

    def warmed(self) -> Build | None:
        """The warm-up's build of the same image (tests/deploy/warm_cache.py), where its log
        is kept."""
        name = self.tag.split(":")[0]
        path = WARM_LOGS / f"{name}_{WARM_TAG}.log"
        return Build(f"{name}:{WARM_TAG}", 0.0, path.read_text()) if path.exists() else None

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
    ``stylize-NAME:boot-cache``. The CPU worker first: its first layers are the API's and the
    GPU worker's too, and built once they are found again by every later build (two builds
    at once would each make their own, and a later one finds only one of them); then the API
    alongside the GPU worker, which adds its CUDA layer to the layers the workers share."""

    def one(name: str) -> Build:
        dockerfile, build_args = IMAGES[name]
        tags = [f"stylize-{name}:{tag}", f"stylize-{name}:{CACHE_TAG}"]
        return build(dockerfile, tags, {"BASE_IMAGE": base, **build_args}, log_dir)

    worker_cpu = one("worker-cpu")
    with ThreadPoolExecutor(max_workers=2) as pool:
        api, worker = pool.submit(one, "api"), pool.submit(one, "worker")
        return {"api": api.result(), "worker-cpu": worker_cpu, "worker": worker.result()}


def run_in(image: str, *command: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``command`` in a new container of ``image`` (removed afterwards), without failing."""
    return docker("run", "--rm", image, *command, timeout=timeout, check=False)


def remove_tags(*tags: str) -> None:
    """Untag images; an image that keeps another tag keeps its layers (the build cache)."""
    docker("rmi", *tags, check=False)
