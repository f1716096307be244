"""The worker through a PostgreSQL outage: the claim and the final write are retried with
backoff until the database is back, and the finished result is kept (stored before the row
says so). The outage is a TCP proxy in front of the shared PostgreSQL being stopped."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrations import upgrade
from shared.api_keys import create_key
from shared.db import job_store
from shared.db.session import session_factory
from shared.params import JobParams
from shared.settings import Settings
from shared.storage.keys import content_key, result_key, style_key
from shared.storage.local import LocalStorage
from tests.support import RecordingChannel, TcpProxy, noise_png, postgres_database
from worker.engine import StyleEngine
from worker.job_context import JobContext
from worker.tasks import execute_job

pytestmark = pytest.mark.integration
OUTAGE_S = 2.0


@dataclass
class OutageAtTheEnd(RecordingChannel):
    """Takes the database away when the last iteration is reported, back ``OUTAGE_S`` later."""

    proxy: Any = None
    total: int = 0

    def publish(self, job_id: str, event: dict[str, Any]) -> bool:
        if event.get("iteration") == self.total:
            self.proxy.stop()
            threading.Timer(OUTAGE_S, self.proxy.start).start()
        return super().publish(job_id, event)


@pytest.fixture
def proxied_url() -> Iterator[tuple[str, TcpProxy]]:
    with postgres_database("stylize_worker_outage") as url:
        upgrade(url)
        proxy = TcpProxy("127.0.0.1", 5432)
        proxy.start()
        through_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        try:
            yield through_proxy, proxy
        finally:
            proxy.stop()
            session_factory(through_proxy).kw["bind"].dispose()
            session_factory.cache_clear()


def test_a_job_finishing_during_an_outage_still_succeeds(
    proxied_url: tuple[str, TcpProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, proxy = proxied_url
    storage = LocalStorage(tmp_path / "storage")
    job_id, iterations = uuid.uuid4(), 4
    storage.put(content_key(job_id, "png"), noise_png(36, 24, 1))
    storage.put(style_key(job_id, 1, "png"), noise_png(24, 24, 2))
    sessions = session_factory(url)
    with sessions() as session:
        owner, _ = create_key(session, "outage")
        job_store.create_job(
            session,
            job_id=job_id,
            owner_id=owner.id,
            params=JobParams(max_size=36, iterations=iterations, preview_every=0),
            content_key=content_key(job_id, "png"),
            style_keys=[style_key(job_id, 1, "png")],
            max_attempts=3,
        )
    channel = OutageAtTheEnd(proxy=proxy, total=iterations)
    ctx = JobContext(
        settings=Settings(database_url=url, db_retry_s=120),
        sessions=sessions,
        storage=storage,
        channel=channel,  # type: ignore[arg-type]  # records instead of talking to Redis
        engine=StyleEngine.load("random"),
        worker="outage-worker",
    )
    assert execute_job(job_id, 1, ctx) == "succeeded"
    assert "Retrying" in caplog.text and "OperationalError" in caplog.text, "it met the outage"
    with sessions() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None and (job.status, job.attempts) == ("succeeded", 1)
        assert job.result_key == result_key(job_id, "png", 1)
    assert storage.exists(job.result_key)
    assert [e["status"] for e in channel.of_type("status")] == ["running", "succeeded"]
