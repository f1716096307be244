"""One compose project of docker-compose.yml on this machine's engine, as the boot test runs it.

The CPU path of the file (profile ``cpu``, the GPU ``worker`` scaled to 0), with
``boot.compose.yml`` over it (health checks polled often, short recovery timings). Every
variable the file reads comes from this project's own env file, none from the caller's
environment or a ``.env`` of the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.docker_tools import ROOT, docker

FILES = (ROOT / "docker-compose.yml", Path(__file__).with_name("boot.compose.yml"))
ONE_SHOT = ("minio-bucket", "migrate")
GPU_ONLY = ("worker",)  # scaled to 0 on the CPU path
PASSED_ON = ("PATH", "HOME", "LANG", "DOCKER_HOST", "TMPDIR")  # nothing else is inherited


def compose_command() -> tuple[str, ...]:
    """``docker compose`` where the plugin answers, else Debian's ``docker-compose``."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if plugin.returncode == 0:
        return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    pytest.fail("neither `docker compose` nor `docker-compose` (prepare.sh installs it)")


@dataclass(frozen=True)
class Container:
    """One container of the project."""

    id: str
    service: str
    hostname: str


class ComposeStack:
    """The project ``name`` with ``variables`` (written to ``env_file``)."""

    def __init__(self, name: str, variables: dict[str, str], env_file: Path) -> None:
        self.name = name
        self.variables = variables
        env_file.write_text("".join(f"{key}={value}\n" for key, value in variables.items()))
        files = [item for path in FILES for item in ("-f", str(path))]
        self._command = [
            *compose_command(),
            "--env-file",
            str(env_file),
            *files,
            "-p",
            name,
            "--profile",
            "cpu",
        ]
        self._env = {key: os.environ[key] for key in PASSED_ON if key in os.environ}

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a compose command on the project; fail the test (with the logs) unless it exits 0."""
        result = subprocess.run(
            [*self._command, *args],
            cwd=ROOT,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            pytest.fail(
                f"compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stderr[-4000:]}\n{self.logs()}"
            )
        return result

    def long_running_services(self) -> list[str]:
        """Every service of the files but the one-shots and the GPU worker: what must be
        healthy (a service added later is waited on too, and must have a health check)."""
        names = self.compose("config", "--services").stdout.split()
        return [name for name in names if name not in (*ONE_SHOT, *GPU_ONLY)]

    def up(self, cpu_workers: int) -> None:
        """``up -d`` the CPU path with ``cpu_workers`` workers, as docs/operations.md says."""
        self.compose(
            "up", "-d", "--no-build", "--scale", "worker=0", "--scale", f"worker-cpu={cpu_workers}"
        )

    def containers(self, service: str) -> list[Container]:
        """The service's containers, running or not."""
        ids = docker(
            "ps",
            "-aq",
            "--filter",
            f"label=com.docker.compose.project={self.name}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ).stdout.split()
        if not ids:
            return []
        found = json.loads(docker("inspect", *ids).stdout)
        return [Container(c["Id"][:12], service, c["Config"]["Hostname"]) for c in found]

    def state(self, container: Container) -> dict:
        """Docker's ``.State`` of the container (``Health.Status`` where it has a check)."""
        return json.loads(docker("inspect", "--format", "{{json .State}}", container.id).stdout)

    def wait_ready(self, services: list[str], timeout: float) -> float:
        """Wait until every container of ``services`` is ``healthy`` by Docker's own health
        check and each one-shot exited 0; the seconds waited. Fails naming the laggards."""
        started = time.monotonic()
        while True:
            pending = self._not_ready(services)
            if not pending:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                pytest.fail(f"not ready within {timeout:.0f} s: {pending}\n{self.logs()}")
            time.sleep(1)

    def _not_ready(self, services: list[str]) -> dict[str, str]:
        pending = {}
        for service in [*services, *ONE_SHOT]:
            containers = self.containers(service)
            if not containers:
                pending[service] = "no container"
            for container in containers:
                state = self.state(container)
                if service in ONE_SHOT:
                    if state["Status"] == "exited" and state["ExitCode"] != 0:
                        pytest.fail(f"{service} exited {state['ExitCode']}:\n{self.logs()}")
                    verdict = "ready" if state["Status"] == "exited" else state["Status"]
                else:
                    verdict = state.get("Health", {}).get("Status", "no health check")
                    verdict = "ready" if verdict == "healthy" else verdict
                if verdict != "ready":
                    pending[f"{service} {container.id}"] = verdict
        return pending

    def logs(self, tail: int = 40) -> str:
        """The last lines each service logged (for failure messages)."""
        result = subprocess.run(
            [*self._command, "logs", "--no-color", f"--tail={tail}"],
            cwd=ROOT,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.stdout[-12000:]

    def down(self) -> None:
        """Remove the containers, network and volumes; never fails the test itself."""
        subprocess.run(
            [*self._command, "down", "-v", "--remove-orphans", "--timeout", "5"],
            cwd=ROOT,
            env=self._env,
            capture_output=True,
            timeout=300,
        )
