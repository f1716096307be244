"""The API built from its factory: migrated SQLite, temp storage, real Redis, a recording sender."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from api import create_app
from shared.api_keys import create_key
from shared.db.session import session_factory
from shared.params import JobParams
from shared.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"


@dataclass
class RecordingSender:
    """Stands in for the broker in unit tests: records what would be queued."""

    sent: list[str] = field(default_factory=list)
    fail: bool = False

    def __call__(self, job_id: str, params: JobParams) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.sent.append(job_id)


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=sqlite_url,
        storage_url=f"file://{tmp_path / 'storage'}",
        broker_url=REDIS_URL,
        max_upload_bytes=200_000,
        max_styles=3,
        max_image_pixels=100_000,
    )


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def app(settings: Settings, sender: RecordingSender) -> Iterator[Flask]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    yield create_app(settings, task_sender=sender)
    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_key(settings: Settings, name: str) -> dict[str, str]:
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, name)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    return make_key(settings, "tests")


def png_bytes(
    width: int = 40,
    height: int = 32,
    colour: tuple[int, int, int] = (200, 30, 30),
    fmt: str = "PNG",
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()
