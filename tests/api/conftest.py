"""The API built from its factory: migrated SQLite, temp storage, real Redis, a recording sender."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from shared.settings import Settings
from tests.support.api import REDIS_URL, RecordingSender, make_key


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=sqlite_url,
        storage_url=f"file://{tmp_path / 'storage'}",
        broker_url=REDIS_URL,
        max_upload_bytes=200_000,
        max_styles=3,
        max_image_pixels=100_000,
        storage_min_free_mb=0,
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


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    return make_key(settings, "tests")
