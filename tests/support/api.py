"""API test helpers: a recording task sender, keys, and a submit with small real images."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shared.api_keys import create_key
from shared.db.session import session_factory
from shared.params import JobParams
from shared.settings import Settings
from tests.support import png_bytes

REDIS_URL = "redis://127.0.0.1:6379/15"


@dataclass
class RecordingSender:
    """Stands in for the broker in unit tests: records what would be queued."""

    sent: list[str] = field(default_factory=list)
    fail: bool = False

    def __call__(self, job_id: str, attempt: int, params: JobParams) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.sent.append(job_id)


def make_key(settings: Settings, name: str) -> dict[str, str]:
    """A new key's Authorization header."""
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, name)
    return {"Authorization": f"Bearer {secret}"}


def submit(
    client: FlaskClient, auth: dict, headers: dict | None = None, **form: str
) -> TestResponse:
    """POST a job: a 48x32 content image, two 20x20 style images, ``form`` as parameters."""
    data = {
        "content": (io.BytesIO(png_bytes(48, 32)), "c.png"),
        "style": [
            (io.BytesIO(png_bytes(20, 20, (0, 0, 255))), "s1.png"),
            (io.BytesIO(png_bytes(20, 20, (0, 255, 0))), "s2.png"),
        ],
        **form,
    }
    return client.post("/v1/jobs", headers={**auth, **(headers or {})}, data=data)
