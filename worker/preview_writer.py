"""The engine's preview hook: store the image and announce it (best effort: a database or
Redis outage skips the announcement, never the job)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np
import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import job_store
from shared.images import PREVIEW_FORMAT, encode_image
from shared.job_events import preview_event
from shared.progress_channel import ProgressChannel
from shared.storage import Storage
from shared.storage.keys import preview_key

log = logging.getLogger(__name__)


@dataclass
class PreviewWriter:
    """Writes each preview to ``jobs/<id>/preview.png`` and tells the row and live viewers."""

    job_id: uuid.UUID
    attempt: int
    storage: Storage
    channel: ProgressChannel
    sessions: sessionmaker[Session]
    seconds: float = 0.0  # how long the last preview took to encode, store and announce

    def __call__(self, iteration: int, image: np.ndarray) -> None:
        started = time.perf_counter()
        key = preview_key(self.job_id, PREVIEW_FORMAT.extension)
        data = encode_image(image, PREVIEW_FORMAT.name)
        self.storage.put(key, data)
        try:
            with self.sessions() as session:
                job_store.set_preview(session, self.job_id, self.attempt, key, len(data))
            self.channel.publish(str(self.job_id), preview_event(iteration))
        except (SQLAlchemyError, redis.RedisError) as exc:
            log.warning("preview of job %s not announced (%s)", self.job_id, exc)
        self.seconds = time.perf_counter() - started
