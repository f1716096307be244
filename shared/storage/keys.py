"""Object-key validation shared by every backend: keys can never escape the storage root."""

from __future__ import annotations

import re

from shared.storage.base import StorageError

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path of plain segments, else raise StorageError."""
    if not key or len(key) > 512:
        raise StorageError("storage key must be 1-512 characters")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise StorageError(
                f"storage key {key!r} is not a plain relative path "
                "(letters, digits, '.', '_', '-' separated by '/')"
            )
    return key
