"""Fixtures of the boot test: the stand-ins, both images built as written, the compose stack.

All module-scoped: one run prepares, builds and boots once, and the tests of test_boot.py
follow that one fleet through its life, in file order. The figures it measures are printed at
the end of the run (pytest's summary), and each step as it happens.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cli.embedded_redis import free_port
from client import Client
from tests.deploy.compose_stack import ComposeStack
from tests.deploy.docker_tools import IMAGES, Build, build_images, prepare, remove_tags

RUN = uuid.uuid4().hex[:8]  # names this run's images and compose project
FIGURES: list[tuple[str, str]] = []  # what this run measured, for pytest's summary


@dataclass
class Figures:
    """Measured figures: each written to the terminal at once and again in the summary."""

    config: pytest.Config

    def add(self, name: str, value: str) -> None:
        FIGURES.append((name, value))
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if capture is not None and reporter is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"boot: {name}: {value}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("boot test figures")
        for name, value in FIGURES:
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="module")
def figures(pytestconfig: pytest.Config) -> Figures:
    return Figures(pytestconfig)


@pytest.fixture(scope="module")
def standins(figures: Figures) -> dict[str, str]:
    """The stand-in images (prepare.sh; skips only where Docker cannot run at all)."""
    images, seconds = prepare()
    figures.add("prepare.sh (Docker, stand-in base and service images)", f"{seconds:.0f} s")
    return images


@dataclass(frozen=True)
class Images:
    """The images of this run: the two Dockerfiles as written, and the CPU worker variant."""

    api: Build
    worker: Build  # as written: ACCELERATOR=cuda
    worker_cpu: Build

    def all(self) -> list[Build]:
        return [self.api, self.worker, self.worker_cpu]


@pytest.fixture(scope="module")
def images(
    standins: dict[str, str], figures: Figures, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Images]:
    """Build the images with only the base substituted; untag them afterwards (the layers
    stay cached under the ``boot-cache`` tags)."""
    started = time.monotonic()
    logs = tmp_path_factory.mktemp("builds")
    try:
        built = build_images(standins["STYLIZE_BASE_IMAGE"], f"boot-{RUN}", logs)
        images = Images(built["api"], built["worker"], built["worker-cpu"])
        for done in images.all():
            size = f"{done.size_bytes / 1e9:.2f} GB"
            figures.add(f"image {done.tag.split(':')[0]}", f"built in {done.seconds:.0f} s, {size}")
        figures.add("all three images", f"built in {time.monotonic() - started:.0f} s")
        yield images
    finally:
        remove_tags(*(f"stylize-{name}:boot-{RUN}" for name in IMAGES))


def loopback_address() -> str:
    """A loopback address of its own (127.x.y.z): no port of this machine's services or of
    another run's stack can clash with the ports the compose file publishes on it."""
    octets = secrets.SystemRandom()
    return f"127.{octets.randint(1, 254)}.{octets.randint(0, 255)}.{octets.randint(2, 254)}"


@dataclass
class Fleet:
    """The booted stack and how to reach it from this machine."""

    stack: ComposeStack
    api_url: str
    flower_url: str
    flower_auth: tuple[str, str]
    services: list[str]  # the long-running services the test waits on


@pytest.fixture(scope="module")
def fleet(
    images: Images,
    standins: dict[str, str],
    figures: Figures,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """The compose stack on the CPU path with one worker, every service healthy; always taken
    down with its volumes afterwards."""
    address, flower_port = loopback_address(), free_port()
    flower_password = secrets.token_hex(12)
    variables = {
        **standins,
        "STYLIZE_IMAGE_PREFIX": "stylize",
        "STYLIZE_IMAGE_TAG": f"boot-{RUN}",
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "REDIS_PASSWORD": secrets.token_hex(12),
        "MINIO_ROOT_USER": "stylize",
        "MINIO_ROOT_PASSWORD": secrets.token_hex(12),
        "STYLIZE_FLOWER_BASIC_AUTH": f"admin:{flower_password}",
        "HUB_BIND_ADDRESS": address,
        "API_BIND_ADDRESS": address,
        "API_WORKERS": "2",
        "FLOWER_PORT": str(flower_port),
    }
    stack = ComposeStack(
        f"stylize-boot-{RUN}", variables, tmp_path_factory.mktemp("compose") / "boot.env"
    )
    services = stack.long_running_services()
    try:
        started = time.monotonic()
        stack.up(cpu_workers=1)
        stack.wait_ready(services, timeout=600)
        figures.add(
            "boot to ready (up -d to every health check healthy, one worker)",
            f"{time.monotonic() - started:.0f} s",
        )
        yield Fleet(
            stack,
            f"http://{address}:8000",
            f"http://127.0.0.1:{flower_port}",
            ("admin", flower_password),
            services,
        )
    finally:
        started = time.monotonic()
        stack.down()
        figures.add("down -v", f"{time.monotonic() - started:.0f} s")


@pytest.fixture(scope="module")
def api_key(fleet: Fleet) -> str:
    """A key made by the CLI inside the API's container (``stylize keys create``)."""
    result = fleet.stack.compose("exec", "-T", "api", "stylize", "keys", "create", "boot-test")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def api(fleet: Fleet, api_key: str) -> Iterator[Client]:
    """The project's Python client on the fleet's API, with a key of its own."""
    with Client(fleet.api_url, api_key) as client:
        yield client
