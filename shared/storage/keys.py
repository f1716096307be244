"""Object keys: the safety check every backend applies, and the names of a job's objects."""

from __future__ import annotations

import re
import uuid

from shared.storage.errors import StorageError

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


def _job_object(job_id: uuid.UUID | str, name: str, extension: str) -> str:
    return check_key(f"jobs/{job_id}/{name}.{extension}")


def content_key(job_id: uuid.UUID | str, extension: str) -> str:
    """The uploaded content image, e.g. ``jobs/<id>/content.jpg``."""
    return _job_object(job_id, "content", extension)


def style_key(job_id: uuid.UUID | str, number: int, extension: str) -> str:
    """The ``number``-th (from 1) uploaded style image, e.g. ``jobs/<id>/style-2.png``."""
    return _job_object(job_id, f"style-{number}", extension)


def preview_key(job_id: uuid.UUID | str, extension: str) -> str:
    """The latest intermediate image, overwritten at each preview."""
    return _job_object(job_id, "preview", extension)


def result_key(job_id: uuid.UUID | str, extension: str, attempt: int) -> str:
    """The finished picture of run ``attempt``, e.g. ``jobs/<id>/result-1.png``.

    Each run writes its own object, so a stale run that wakes up can never overwrite (or, when
    it loses the row, delete) the result of the run that owns the job.
    """
    return _job_object(job_id, f"result-{attempt}", extension)
