"""The expensive checks of a submission, made once every cheap one has passed.

Each image is decoded in full (truncated files, decompression bombs, formats outside the
allow-list and work beyond the header's bounds are refused: shared/images.py), off the event
loop, and at most ``DECODES_PER_KEY`` submits of one key decode at once in a process (the others
wait their turn), so one key's uploads cannot hold the decoding threads that other keys need.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import g

from api.errors import ApiProblem, invalid_request
from api.offload import off_loop
from api.validation import Draft, Submission, Upload
from shared.images import ImageError, decode_image, input_extension
from shared.settings import Settings

DECODES_PER_KEY = 2
SLOT_WAIT_S = 20.0
_gates: dict[uuid.UUID, threading.BoundedSemaphore] = {}
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
    """One of the key's DECODES_PER_KEY decoding places in this process: waited for (a
    greenlet, not a thread), for at most SLOT_WAIT_S; then a 429."""
    with _lock:
        gate = _gates.setdefault(key, threading.BoundedSemaphore(DECODES_PER_KEY))
    if not gate.acquire(timeout=SLOT_WAIT_S):
        raise ApiProblem(
            429,
            "Too Many Requests",
            f"this key has had {DECODES_PER_KEY} submits being checked here for "
            f"{SLOT_WAIT_S:.0f} s; send submits one after another",
            headers={"Retry-After": "5"},
        )
    try:
        yield
    finally:
        gate.release()
