"""Small network checks for the service commands: loopback, free ports, HTTP answers, and
Flower's password rule."""

from __future__ import annotations

import ipaddress
import socket

import click
import requests

PROBE_TIMEOUT_S = 5


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """True when this process could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def nothing_listens(host: str, port: int) -> bool:
    """True when a connection to ``host:port`` is refused (no server there at all)."""
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def http_ok(url: str) -> bool:
    """True when ``url`` answers 200; any request error is False."""
    try:
        return requests.get(url, timeout=PROBE_TIMEOUT_S).status_code == 200
    except requests.RequestException:
        return False


def require_flower_auth(host: str, basic_auth: str | None) -> None:
    """A one-line error when Flower would listen beyond loopback without a password."""
    if not basic_auth and not is_loopback(host):
        raise click.ClickException(
            f"Flower would listen on {host} without a password; set "
            "STYLIZE_FLOWER_BASIC_AUTH=user:password or STYLIZE_FLOWER_HOST=127.0.0.1"
        )
