"""Helpers shared by many tests: waiting, PostgreSQL databases, images, a recording channel,
a webhook receiver."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg
import pytest
import requests
from PIL import Image

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]  # the checkout the tests run in

# Generous per-request timeout: a busy 2-core machine can stall a response for seconds.
HTTP_TIMEOUT_S = 30.0

PG_HOST = "127.0.0.1:5432"
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}/postgres"


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    diagnostics: Callable[[], str] = lambda: "",
) -> T:
    """Call ``probe`` until it returns a truthy value; any exception counts as "not yet".

    Fails the test after ``timeout`` seconds, naming ``what`` and the last exception, with
    ``diagnostics()`` (e.g. a log's tail) appended.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, OSError) as exc:  # slow start: not yet
            last_error = exc
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} not within {timeout:.0f} s (last error: {last_error})\n{diagnostics()}"
            )
        time.sleep(interval)


@contextmanager
def postgres_database(prefix: str = "stylize_test", encoding: str | None = None) -> Iterator[str]:
    """A new, uniquely named PostgreSQL database on this machine: its URL, dropped afterwards.

    ``encoding`` (e.g. ``SQL_ASCII``) makes it from template0 in that encoding. Fails (never
    skips) the test when PostgreSQL does not answer.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_HOST} (.ci/run starts it): {exc}")
    with admin:
        options = f" ENCODING '{encoding}' TEMPLATE template0" if encoding else ""
        admin.execute(f'CREATE DATABASE "{name}"{options}')
        try:
            yield f"postgresql+psycopg://postgres@{PG_HOST}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def png_bytes(
    width: int = 40,
    height: int = 32,
    colour: tuple[int, int, int] = (200, 30, 30),
    fmt: str = "PNG",
) -> bytes:
    """A plain one-colour image, PNG unless ``fmt`` names another PIL format."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def noise_png(width: int, height: int, seed: int) -> bytes:
    """A random-texture PNG: something for the style transfer to work on."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class RecordingChannel:
    """Stands in for the Redis progress channel: records events, answers the cancel flag."""

    cancel: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        self.events.append(event)
        return self.cancel

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The recorded events whose ``type`` is ``kind``."""
        return [event for event in self.events if event["type"] == kind]


class QuietHTTPServer(http.server.ThreadingHTTPServer):
    """A threaded test server that joins its handlers on close and prints nothing.

    A handler still running after a test (a client that gave up) must not write into the
    next test's captured output, as socketserver's default error report would.
    """

    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass
class Delivery:
    """One request a WebhookReceiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers scripted statuses.

    ``statuses`` are answered in order, then 200 for every later request.
    """

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self._statuses = list(statuses or [])
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.deliveries.append(Delivery(self.path, dict(self.headers), body))
                status = receiver._statuses.pop(0) if receiver._statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip body of about 0.5 MB that inflates to 512 MiB of zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip wrapper
    zeros = bytes(1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(512)), packer.flush()])


class HostileReceiver:
    """A webhook receiver that misbehaves on purpose, on a raw socket at 127.0.0.1.

    ``mode``: ``trickle`` (the status line, then one header byte every 0.3 s, forever),
    ``gzip-bomb`` (200 with ``Content-Encoding: gzip`` and a body that inflates to 512 MiB),
    ``slow`` (answers 200 after ``delay_s``), ``endless`` (a body that never ends, fast).
    Every accepted connection is counted in ``connections``.
    """

    def __init__(self, mode: str, delay_s: float = 3.0) -> None:
        self.mode, self.delay_s = mode, delay_s
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.settimeout(5)
            connection.recv(65536)  # the request (small enough to arrive at once)
            if self.mode == "trickle":
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.wait(0.3):
                    connection.sendall(b"X")
            elif self.mode == "gzip-bomb":
                bomb = gzip_bomb()
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                    f"Content-Length: {len(bomb)}\r\n\r\n"
                )
                connection.sendall(head.encode() + bomb)
            elif self.mode == "slow":
                self._stop.wait(self.delay_s)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            elif self.mode == "endless":
                connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
                while not self._stop.is_set():
                    connection.sendall(b"y" * 65536)

    def close(self) -> None:
        """Stop serving (open connections end within a moment)."""
        self._stop.set()
        self._listener.close()


def portrait_photo_bytes(width: int = 20, height: int = 40) -> bytes:
    """A JPEG as a phone stores a portrait photo: landscape pixels, EXIF orientation 6.

    Upright it is ``width`` x ``height``, red in its top half and blue in its bottom half.
    """
    upright = Image.new("RGB", (width, height), (255, 0, 0))
    upright.paste((0, 0, 255), (0, height // 2, width, height))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


class TcpProxy:
    """A TCP forwarder on a free 127.0.0.1 port to ``target``: ``stop()`` drops every connection
    and refuses new ones (a database server that went down), ``start()`` serves again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
