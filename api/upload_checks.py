"""The expensive checks of a submission, made once every cheap one has passed.

Each image is decoded in full (truncated files, decompression bombs, formats outside the
allow-list and work beyond the header's bounds are refused: shared/images.py), off the event
loop, and at most ``DECODES_PER_KEY`` submits of one key decode at once in a process, so one
key's uploads cannot hold the decoding threads that other keys need.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from flask import g

from api.errors import ApiProblem, invalid_request
from api.offload import off_loop
from api.validation import Draft, Submission, Upload
from shared.images import ImageError, decode_image, input_extension
from shared.settings import Settings

DECODES_PER_KEY = 2
_decoding: Counter[uuid.UUID] = Counter()
_lock = threading.Lock()


def check_uploads(draft: Draft, settings: Settings) -> Submission:
    """Decode every upload; one 422 naming each bad image."""
    with decode_slot(g.owner_id):
        errors: list[dict[str, str]] = []
        content = read_upload("content", draft.content, settings, errors)
        styles = [
            read_upload(f"style[{n}]", data, settings, errors)
            for n, data in enumerate(draft.styles, start=1)
        ]
    if errors or content is None:
        raise invalid_request(errors)
    return Submission(
        draft.params, content, [style for style in styles if style], draft.request_hash
    )


def read_upload(
    field: str, data: bytes, settings: Settings, errors: list[dict[str, str]]
) -> Upload | None:
    """Decode the upload fully and keep its original bytes; a problem goes to ``errors``."""
    try:
        off_loop(lambda: decode_image(data, max_pixels=settings.max_image_pixels))
    except ImageError as exc:
        errors.append({"field": field, "message": str(exc)})
        return None
    return Upload(data, input_extension(data))


@contextmanager
def decode_slot(key: uuid.UUID) -> Iterator[None]:
    """Count the key's decodes in this process; a 429 when it already has DECODES_PER_KEY."""
    with _lock:
        if _decoding[key] >= DECODES_PER_KEY:
            raise ApiProblem(
                429,
                "Too Many Requests",
                f"this key already has {DECODES_PER_KEY} submits being checked here; send "
                "submits one after another",
                headers={"Retry-After": "1"},
            )
        _decoding[key] += 1
    try:
        yield
    finally:
        with _lock:
            _decoding[key] -= 1
            if _decoding[key] <= 0:
                del _decoding[key]
