"""The one settings object: every ``STYLIZE_*`` environment variable, read once and validated."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.webhooks.address import AllowList

ENV_PREFIX = "STYLIZE_"
SECRET_FIELDS = frozenset({"s3_secret_key", "s3_access_key", "flower_basic_auth", "metrics_token"})
_QUERY_SECRET = re.compile(r"((?:^|&)[^=&]*(?:password|secret|token)[^=&]*=)[^&]*", re.IGNORECASE)

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable and the fix."""


class Settings(BaseSettings):
    """Effective configuration; defaults run everything on one machine with nothing set.

    Each field's docstring is its documentation: README's settings table is generated from it.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    database_url: str = "sqlite:///./var/stylize.db"
    """The job database: `sqlite:///PATH` (one machine) or `postgresql+psycopg://USER:PASSWORD@HOST/DB`."""
    storage_url: str = "file://./var/storage"
    """Where images live: `file://PATH` (one machine) or `s3://BUCKET[/PREFIX]`."""
    broker_url: str = "redis://127.0.0.1:6379/0"
    """Redis for the queue and live progress: `redis://[:PASSWORD@]HOST:PORT/DB`."""
    vgg_weights: str = "auto"
    """VGG16 weights: `auto` (ImageNet if cached, else hed), `imagenet`, `hed` or a path to an
    `.h5` file."""

    s3_endpoint_url: str | None = None
    """S3 endpoint for MinIO and other S3-compatible stores, e.g. `http://minio:9000`; unset
    means AWS."""
    s3_region: str = "us-east-1"
    """S3 region."""
    s3_access_key: str | None = None
    """S3 access key id (secret; unset means boto3's own credential chain)."""
    s3_secret_key: str | None = None
    """S3 secret access key (secret)."""

    api_host: str = "127.0.0.1"
    """Address `stylize api` and `stylize up` bind, and where the CLI client looks for the API."""
    api_port: Annotated[int, Field(gt=0, lt=65536)] = 8000
    """Port of the API."""
    flower_host: str = "127.0.0.1"
    """Address Flower binds; anything beyond loopback requires `STYLIZE_FLOWER_BASIC_AUTH`."""
    flower_port: Annotated[int, Field(gt=0, lt=65536)] = 5555
    """Port of Flower."""
    flower_basic_auth: str | None = None
    """Flower's login as `user:password` (several: comma-separated); secret."""
    gpu_queue: str = "gpu"
    """Celery queue the API sends jobs to and workers consume."""
    webhook_threads: Annotated[int, Field(gt=0, le=256)] = 16
    """Deliveries `stylize webhooks` sends at once."""
    webhook_per_key: Annotated[int, Field(gt=0, le=256)] = 2
    """Deliveries of one API key in flight at once in a sender: a slow receiver delays only
    its own key."""
    webhook_deadline_s: Annotated[float, Field(gt=0, le=120)] = 15.0
    """Longest one delivery attempt may take, connection to last byte read."""
    webhook_allow: str = ""
    """Non-public addresses webhooks may reach all the same: comma-separated IPs, networks
    (`10.0.0.0/8`) or host names; empty refuses loopback, private, link-local and metadata."""

    log_format: Literal["auto", "text", "json"] = "auto"
    """`text` (lines for people), `json` (one object per line) or `auto`: text when stderr is a
    terminal, else JSON."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level every process logs."""

    max_upload_bytes: PositiveInt = 20 * 1024 * 1024
    """Largest request body the API accepts (413 above)."""
    max_image_pixels: PositiveInt = 40_000_000
    """Largest decoded image, in pixels (decompression bombs are refused)."""
    max_styles: PositiveInt = 4
    """Most style images one job may have."""
    rate_limit_per_minute: PositiveInt = 120
    """Requests per minute per API key (429 above)."""
    auth_cache_s: NonNegativeFloat = 2.0
    """Seconds an API process trusts a key it has checked without asking the database again:
    a revoked key keeps working for up to this long. 0 checks every request."""
    api_connections: Annotated[int, Field(gt=0, le=100_000)] = 1000
    """Connections one API process serves at once (gunicorn's gevent worker: an open event
    stream or `Prefer: wait` holds a connection, never a thread)."""
    api_db_pool: Annotated[int, Field(gt=0, le=256)] = 16
    """Database connections an API process keeps open; requests beyond them wait for one
    (streams and waits hold none while they wait)."""
    events_per_key: PositiveInt = 32
    """Event streams and `Prefer: wait` requests one API key may hold open at once, across all
    API processes (429 above)."""
    events_per_process: PositiveInt = 800
    """Event streams and waits one API process holds at once (429 above); keep it below
    `STYLIZE_API_CONNECTIONS` so plain requests always find room."""
    events_max_s: PositiveFloat = 300.0
    """Longest life of one event stream; then the client reconnects with `Last-Event-ID` and
    goes on where it was."""
    max_wait_s: Annotated[int, Field(ge=0, le=3600)] = 60
    """Longest `Prefer: wait=N` honoured, seconds (a longer N is cut to this)."""
    metrics_token: str | None = None
    """When set, `GET /metrics` needs `Authorization: Bearer <token>` (secret)."""
    max_active_jobs_per_key: PositiveInt = 8
    """Most queued or running jobs per API key (429 above)."""
    retain_inputs_s: PositiveFloat = 7 * 24 * 3600
    """Seconds after a job ended that its input images are removed from storage."""
    retain_results_s: PositiveFloat = 30 * 24 * 3600
    """Seconds after a job ended that its result and preview are removed (then 410 Gone)."""
    storage_min_free_mb: Annotated[int, Field(ge=0)] = 1024
    """Local storage: submits are refused (507) while the disk has less free space than this,
    so the database beside it never runs out; 0 checks nothing."""

    job_max_attempts: PositiveInt = 3
    """How often a job may be started before it ends `failed`."""
    progress_db_interval_s: PositiveFloat = 1.0
    """Seconds between writes of a running job's progress to the database."""
    heartbeat_timeout_s: PositiveFloat = 30.0
    """A running job whose heartbeat is older than this is reaped: requeued, or ended
    `worker_lost` after `STYLIZE_JOB_MAX_ATTEMPTS` (docs/jobs.md)."""
    reaper_interval_s: PositiveFloat = 10.0
    """Seconds between the passes of `stylize reaper`."""
    resend_after_s: PositiveFloat = 60.0
    """A queued job that no worker claimed is sent again after this (then after longer waits)."""
    worker_shutdown_s: NonNegativeFloat = 30.0
    """On SIGTERM a worker finishes its job if it can end within this many seconds, else hands
    it back `queued` at once."""
    db_retry_s: PositiveFloat = 300.0
    """How long a worker retries a database write (with backoff) before giving up."""
    worker_memory_mb: PositiveInt | None = None
    """The memory a worker may use for one job, MB; unset: detected from the GPU's memory or
    the machine's RAM (its container's limit), less the loaded model and a safety margin. A job
    larger than one pass is refined in tiles within it; one that fits in no way is refused.
    Several workers on one machine: give each its share."""
    visibility_timeout_s: PositiveInt = 5 * 24 * 3600
    """Seconds Redis hides a delivered job from other workers; must outlast the largest job's
    hard time limit (~111 h)."""

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
            raise ValueError(
                f"{backend!r} is not supported; use sqlite:/// or postgresql+psycopg://"
            )
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

    @field_validator("webhook_allow")
    @classmethod
    def _webhook_allow(cls, value: str) -> str:
        AllowList.parse(value)  # a bad entry fails here, in one line
        return value

    def webhook_allow_list(self) -> AllowList:
        """``STYLIZE_WEBHOOK_ALLOW`` parsed."""
        return AllowList.parse(self.webhook_allow)

    @field_validator("flower_basic_auth")
    @classmethod
    def _flower_basic_auth(cls, value: str | None) -> str | None:
        if not value:
            return None
        for login in value.split(","):
            user, _, password = login.partition(":")
            if not user or not password:
                raise ValueError("use user:password (several: user1:pw1,user2:pw2)")
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
