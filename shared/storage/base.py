"""The storage interface and the factory that picks a backend from a URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol
from urllib.parse import urlsplit

from shared.settings import Settings


class Storage(Protocol):
    """Keys are relative slash-separated paths such as ``jobs/<id>/content.png``.

    ``blocks_thread``: whether a call holds its OS thread in system calls that an event loop
    cannot interleave (disk writes and fsync); an evented caller runs such calls off its loop.
    """

    blocks_thread: bool

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers see old or new, never half)."""

    def get(self, key: str) -> bytes:
        """The whole object; ObjectNotFound if absent."""

    def open(self, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Stream the object in chunks; ObjectNotFound if absent."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are fine."""

    def url(self, key: str) -> str:
        """A URL naming the object (``file://`` path or ``s3://`` location)."""

    def ping(self) -> bool:
        """True when the backend is reachable and writable."""

    def free_bytes(self) -> int | None:
        """Room left for objects, or None where the backend has no such limit (S3)."""


def open_storage(settings: Settings) -> Storage:
    """The backend named by ``settings.storage_url`` (file:// or s3://)."""
    parts = urlsplit(settings.storage_url)
    if parts.scheme == "file":
        from shared.storage.local import LocalStorage

        return LocalStorage(parts.netloc + parts.path)
    from shared.storage.s3 import S3Storage

    return S3Storage(
        parts.netloc,
        parts.path,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
    )
