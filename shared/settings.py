"""The one settings object: every ``STYLIZE_*`` environment variable, read once and validated."""

from __future__ import annotations

import functools
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "STYLIZE_"
SECRET_FIELDS = frozenset({"s3_secret_key", "s3_access_key"})
_QUERY_SECRET = re.compile(r"((?:^|&)[^=&]*(?:password|secret|token)[^=&]*=)[^&]*", re.IGNORECASE)

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable and the fix."""


class Settings(BaseSettings):
    """Effective configuration; defaults run everything on one machine with nothing set."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/stylize.db"
    storage_url: str = "file://./var/storage"
    broker_url: str = "redis://127.0.0.1:6379/0"
    vgg_weights: str = "auto"

    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(gt=0, lt=65536)] = 8000
    flower_port: Annotated[int, Field(gt=0, lt=65536)] = 5555
    gpu_queue: str = "gpu"

    max_upload_bytes: PositiveInt = 20 * 1024 * 1024
    max_image_pixels: PositiveInt = 40_000_000
    max_styles: PositiveInt = 4
    rate_limit_per_minute: PositiveInt = 120
    max_active_jobs_per_key: PositiveInt = 8

    job_max_attempts: PositiveInt = 3
    progress_db_interval_s: PositiveFloat = 1.0
    # Recovery (docs/jobs.md): a running job whose heartbeat is older than this is reaped.
    heartbeat_timeout_s: PositiveFloat = 30.0
    reaper_interval_s: PositiveFloat = 10.0
    # A queued job that no worker claimed is sent again after this (then after longer waits).
    resend_after_s: PositiveFloat = 60.0
    # SIGTERM: finish the job if it can end within this, else hand it back at once.
    worker_shutdown_s: NonNegativeFloat = 30.0
    # How long the worker retries a database write (with backoff) before giving up.
    db_retry_s: PositiveFloat = 300.0
    # Longer than the hard time limit of the largest job (~111 h); the worker checks it at start.
    visibility_timeout_s: PositiveInt = 5 * 24 * 3600

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL; use e.g. sqlite:///./var/stylize.db "
                "or postgresql+psycopg://user@host/db"
            ) from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"{backend!r} is not supported; use sqlite:/// or postgresql+psycopg://")
        if backend == "postgresql" and url.drivername != "postgresql+psycopg":
            raise ValueError(
                f"driver {url.drivername!r} is not installed; use postgresql+psycopg://"
            )
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "file" and (parts.netloc or parts.path):
            return value
        if parts.scheme == "s3" and parts.netloc:
            return value
        raise ValueError("use file://PATH (e.g. file://./var/storage) or s3://BUCKET[/PREFIX]")

    @field_validator("s3_endpoint_url")
    @classmethod
    def _s3_endpoint_url(cls, value: str | None) -> str | None:
        if not value:
            return None  # empty means AWS's own endpoint
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("use http(s)://HOST[:PORT] (e.g. http://minio:9000)")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("use redis://HOST:PORT/DB (e.g. redis://127.0.0.1:6379/0)")
        return value

    def masked(self) -> dict[str, object]:
        """The settings as a dict, with passwords in URLs and secret keys masked."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if name in SECRET_FIELDS and value:
                shown[name] = "****"
            elif isinstance(value, str) and "://" in value:
                shown[name] = mask_url_password(value)
            else:
                shown[name] = value
        return shown


def mask_url_password(url: str) -> str:
    """Mask a URL's password and secret-looking query parameters (``?password=...``)."""
    parts = urlsplit(url)
    masked = url
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
        masked = masked.replace(parts.netloc, netloc, 1)
    if parts.query:
        masked = masked.replace(parts.query, _QUERY_SECRET.sub(r"\1****", parts.query), 1)
    return masked


def load_settings() -> Settings:
    """Read and validate the environment; raise SettingsError with a one-line message."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{ENV_PREFIX}{field.upper()}: {message}") from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
