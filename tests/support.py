"""Helpers shared by many tests: waiting, PostgreSQL databases, images, a recording channel."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import psycopg
import pytest
import requests
from PIL import Image

T = TypeVar("T")

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
            pytest.fail(f"{what} not within {timeout:.0f} s (last error: {last_error})\n"
                        f"{diagnostics()}")
        time.sleep(interval)


@contextmanager
def postgres_database(prefix: str = "stylize_test") -> Iterator[str]:
    """A new, uniquely named PostgreSQL database on this machine: its URL, dropped afterwards.

    Fails (never skips) the test when PostgreSQL does not answer.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_HOST} (.ci/run starts it): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
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
