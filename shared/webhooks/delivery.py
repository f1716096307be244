"""One delivery attempt that a receiver cannot hurt.

The POST goes to the very address the URL check resolved (the URL's host as ``Host`` and TLS
server name), so DNS rebinding gains nothing. Whatever the receiver does, an attempt costs at
most ``deadline_s`` of one thread and a few kilobytes: a timer shuts the socket at the deadline
(a receiver that trickles its headers or body is cut off, not waited for), nothing is
decompressed, and at most ``MAX_BODY_BYTES`` of the answer are read (headers are bounded by
the standard library: 100 lines of 64 KiB).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass

import urllib3.exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection

from shared.webhooks.address import WebhookTarget

MAX_BODY_BYTES = 1024
CONNECT_TIMEOUT_S = 5.0
# Everything a connection, a TLS handshake or a malformed answer can raise.
EXCHANGE_ERRORS = (OSError, ValueError, http.client.HTTPException, urllib3.exceptions.HTTPError)


@dataclass(frozen=True)
class Answer:
    """What the receiver answered: its status and the start of its body (for the log)."""

    status: int
    excerpt: str


class NoAnswer(Exception):
    """The receiver could not be reached, or did not answer within the deadline."""


def _connection(target: WebhookTarget, address: str, timeout: float) -> HTTPConnection:
    if target.scheme == "https":
        return HTTPSConnection(
            address,
            target.port,
            timeout=timeout,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return HTTPConnection(address, target.port, timeout=timeout)


def _host_header(target: WebhookTarget) -> str:
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default_port else f"{host}:{target.port}"


def post(target: WebhookTarget, body: bytes, headers: dict[str, str], deadline_s: float) -> Answer:
    """POST ``body`` to the first of the target's checked addresses that accepts a connection;
    NoAnswer when none does, or when the whole exchange passes ``deadline_s``."""
    started = time.monotonic()
    headers = {**headers, "Host": _host_header(target), "Accept-Encoding": "identity"}
    last_error = "no address"
    for address in target.addresses:
        left = deadline_s - (time.monotonic() - started)
        if left <= 0:
            break
        connection = _connection(target, address, min(CONNECT_TIMEOUT_S, left))
        was_cut = threading.Event()
        cutoff = threading.Timer(left, _cut, args=(connection, was_cut))
        cutoff.start()
        try:
            try:
                connection.connect()
            except EXCHANGE_ERRORS as exc:  # not sent: the next address may take it
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            try:
                answer = _exchange(connection, target.path, body, headers)
            except EXCHANGE_ERRORS as exc:  # sent, or partly: never to a second address
                if was_cut.is_set():
                    raise NoAnswer(f"no complete answer within {deadline_s:.0f} s") from None
                raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
            if was_cut.is_set():  # what arrived before the cut is not an answer
                raise NoAnswer(f"no complete answer within {deadline_s:.0f} s")
            return answer
        finally:
            cutoff.cancel()
            connection.close()
    raise NoAnswer(last_error)


def _exchange(
    connection: HTTPConnection, path: str, body: bytes, headers: dict[str, str]
) -> Answer:
    """Send the request on an open connection and read the status and a bounded excerpt."""
    connection.request(
        "POST", path, body=body, headers=headers, preload_content=False, decode_content=False
    )
    response = connection.getresponse()
    excerpt = response.read(MAX_BODY_BYTES, decode_content=False)
    return Answer(response.status, excerpt.decode("utf-8", "replace"))


def _cut(connection: HTTPConnection, was_cut: threading.Event) -> None:
    """The deadline passed: shut the socket, so a blocked read returns at once."""
    was_cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
