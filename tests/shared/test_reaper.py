"""The reaper, one pass at a time, on SQLite and PostgreSQL: requeue, fail, cancel, (re-)send,
and the races: a cancel, a slow worker, two reapers at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shared.api_keys import create_key
from shared.db import job_store
from shared.db.base import utcnow
from shared.db.job import Job, JobStatus
from shared.db.session import session_factory
from shared.db.webhook_delivery import WebhookDelivery
from shared.job_end import end_job, run_is
from shared.job_limits import hard_time_limit_s
from shared.job_moves import claim_job
from shared.params import JobParams
from shared.reaper import reap
from shared.settings import Settings

REAPER_REDIS_URL = "redis://127.0.0.1:6379/14"
TIMEOUT_S = 30.0
RESEND_S = 60.0


@dataclass
class Sender:
    """Records ``(job_id, attempt)`` of each send; ``fail`` makes it raise like a dead broker."""

    sent: list[tuple[str, int]] = field(default_factory=list)
    fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, job_id: str, attempt: int, params: JobParams) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        with self.lock:
            self.sent.append((job_id, attempt))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, heartbeat_timeout_s=TIMEOUT_S, resend_after_s=RESEND_S
    )


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    factory = session_factory(settings.database_url)
    yield factory
    factory.kw["bind"].dispose()
    session_factory.cache_clear()


@pytest.fixture
def owner(sessions: sessionmaker[Session]) -> uuid.UUID:
    with sessions() as session:
        key, _ = create_key(session, "reaper-tests")
        return key.id


def new_job(sessions: sessionmaker[Session], owner: uuid.UUID, **params: object) -> uuid.UUID:
    """A queued job, sent now, as the API leaves it."""
    with sessions() as session:
        job = job_store.create_job(
            session,
            job_id=uuid.uuid4(),
            owner_id=owner,
            params=JobParams(**{"iterations": 5, "max_size": 64, **params}),
            content_key="jobs/x/content.png",
            style_keys=["jobs/x/style-1.png"],
            max_attempts=2,
        )
        return job.id


def running_job(sessions: sessionmaker[Session], owner: uuid.UUID, attempt: int = 1) -> uuid.UUID:
    job_id = new_job(sessions, owner)
    with sessions() as session:
        for n in range(1, attempt + 1):
            if n > 1:
                job_store.requeue_run(session, job_id, n - 1)
            assert claim_job(session, job_id, f"worker-{n}", n)
    return job_id


def row(sessions: sessionmaker[Session], job_id: uuid.UUID) -> Job:
    with sessions() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None
        return job


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def backdate_heartbeat(sessions: sessionmaker[Session], job_id: uuid.UUID, seconds: float) -> None:
    with sessions() as session:
        session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=later(-seconds)))
        session.commit()


def test_a_silent_worker_s_job_is_requeued_and_sent_as_the_next_attempt(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    lost, alive = running_job(sessions, owner), running_job(sessions, owner)
    backdate_heartbeat(sessions, lost, TIMEOUT_S + 1)
    sender = Sender()
    report = reap(sessions, sender, settings)
    assert report.requeued == [lost] and report.ended == {}
    assert sender.sent == [(str(lost), 2)], "sent at once, as attempt 2"
    job = row(sessions, lost)
    assert (job.status, job.attempts, job.worker) == ("queued", 1, None)
    assert job.sent_at is not None
    assert row(sessions, alive).status == "running", "a worker that beats keeps its job"


def test_out_of_attempts_ends_worker_lost_with_what_to_do(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    job_id = running_job(sessions, owner, attempt=2)  # max_attempts is 2
    sender = Sender()
    report = reap(sessions, sender, settings, now=later(TIMEOUT_S + 1))
    assert report.ended == {job_id: "worker_lost"} and sender.sent == []
    job = row(sessions, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "worker_lost", 2)
    assert "submit it again" in job.error_message and job.finished_at is not None


def test_past_its_hard_limit_with_its_worker_gone_ends_time_limit(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    job_id = running_job(sessions, owner)
    limit = hard_time_limit_s(JobParams(iterations=5, max_size=64))
    report = reap(sessions, Sender(), settings, now=later(limit + 1))
    assert report.ended == {job_id: "time_limit"}
    assert "lower iterations or max_size" in row(sessions, job_id).error_message


def test_past_its_hard_limit_while_its_heartbeat_still_beats_ends_time_limit(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    """A run stuck inside an iteration keeps beating from its heartbeat thread: the hard
    limit fails it all the same, and its completed webhook is in the outbox."""
    job_id = new_job(sessions, owner, webhook_url="https://hooks.example/x")
    with sessions() as session:
        assert claim_job(session, job_id, "worker-1", 1)
    limit = hard_time_limit_s(JobParams(iterations=5, max_size=64))
    with sessions() as session:
        session.execute(update(Job).where(Job.id == job_id).values(started_at=later(-limit - 5)))
        session.commit()
        assert job_store.beat(session, job_id, 1), "its heartbeat is fresh"
    report = reap(sessions, Sender(), settings)
    assert report.ended == {job_id: "time_limit"}
    assert row(sessions, job_id).status == "failed"
    with sessions() as session:
        [completed] = session.query(WebhookDelivery).filter_by(job_id=job_id, event="completed")
        assert json.loads(completed.body)["data"]["error"]["code"] == "time_limit"


def test_a_cancel_racing_the_reaper_ends_canceled_not_requeued(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    running, queued = running_job(sessions, owner), new_job(sessions, owner)
    with sessions() as session:  # the cancels land; the running job's worker is already dead
        assert job_store.flag_cancel(session, running) is JobStatus.RUNNING
        only_queued = [Job.status == JobStatus.QUEUED.value]
        assert end_job(session, queued, JobStatus.CANCELED, only_if=only_queued) is not None
    sender = Sender()
    report = reap(sessions, sender, settings, now=later(10 * RESEND_S))
    assert report.ended == {running: "canceled"} and report.requeued == []
    assert row(sessions, running).status == "canceled"
    assert sender.sent == [], "a canceled job is never sent again"


def test_a_slow_worker_that_comes_back_changes_nothing(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    job_id = running_job(sessions, owner)
    reap(sessions, Sender(), settings, now=later(TIMEOUT_S + 1))  # it looked dead: requeued
    with sessions() as session:
        assert claim_job(session, job_id, "worker-2", 2)
        # the first worker wakes up: its heartbeat, progress and ending all miss
        assert job_store.beat(session, job_id, 1) is False
        assert end_job(session, job_id, JobStatus.SUCCEEDED, only_if=run_is(1)) is None
    job = row(sessions, job_id)
    assert (job.status, job.attempts, job.worker) == ("running", 2, "worker-2")


def test_a_beat_just_before_the_reaper_s_write_keeps_the_job(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    """The requeue compares the stale heartbeat it read: a worker that beats first wins."""
    job_id = running_job(sessions, owner)
    cutoff = later(1)
    with sessions() as session:
        stale = job_store.stale_running_jobs(session, cutoff)
        assert [job.id for job in stale] == [job_id]
        with sessions() as worker_session:
            job_store.beat(worker_session, job_id, 1)
        backdate_heartbeat(sessions, job_id, -2)  # the beat lands after the read
        assert not job_store.requeue_stale_run(session, stale[0], cutoff)
    assert row(sessions, job_id).status == "running"


def test_jobs_never_sent_go_at_once_and_lost_ones_after_a_growing_wait(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    unsent, sent = new_job(sessions, owner), new_job(sessions, owner)
    with sessions() as session:
        job_store.mark_unsent(session, unsent)  # the API's send failed
    sender = Sender(fail=True)
    reap(sessions, sender, settings)
    assert row(sessions, unsent).sent_at is None, "broker still down: try again next pass"
    sender.fail = False
    reap(sessions, sender, settings)
    assert sender.sent == [(str(unsent), 1)], "the one never sent goes at once, only it"
    sender.sent.clear()
    first = row(sessions, sent).sent_at
    reap(sessions, sender, settings, now=first + timedelta(seconds=RESEND_S + 1))
    assert (str(sent), 1) in sender.sent, "unclaimed after RESEND_AFTER_S: sent again"
    second = row(sessions, sent).sent_at
    sender.sent.clear()
    waited = (second - row(sessions, sent).created_at).total_seconds()
    reap(sessions, sender, settings, now=second + timedelta(seconds=waited * 0.9))
    assert (str(sent), 1) not in sender.sent, "the wait grows with the job's age"
    reap(sessions, sender, settings, now=second + timedelta(seconds=waited + 1))
    assert (str(sent), 1) in sender.sent


def test_two_reapers_at_once_act_on_each_job_once(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    stale = [running_job(sessions, owner) for _ in range(6)]
    unsent = [new_job(sessions, owner) for _ in range(6)]
    with sessions() as session:
        for job_id in unsent:
            job_store.mark_unsent(session, job_id)
    sender, barrier, errors = Sender(), threading.Barrier(2), []
    now = later(TIMEOUT_S + 1)

    def one_reaper() -> None:
        try:
            barrier.wait()
            reap(sessions, sender, settings, now=now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_reaper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = sorted([(str(j), 2) for j in stale] + [(str(j), 1) for j in unsent])
    assert sorted(sender.sent) == expected, "each job sent exactly once"
    assert {row(sessions, j).status for j in stale + unsent} == {"queued"}


def test_stylize_reaper_once_sends_what_the_broker_never_got(
    sessions: sessionmaker[Session], owner: uuid.UUID, settings: Settings
) -> None:
    """The command as ``stylize up`` and docker compose run it, one pass, on a real Redis."""
    job_id = new_job(sessions, owner)
    with sessions() as session:
        job_store.mark_unsent(session, job_id)
    queue = f"gpu-reaper-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "STYLIZE_DATABASE_URL": settings.database_url,
        "STYLIZE_BROKER_URL": REAPER_REDIS_URL,
        "STYLIZE_GPU_QUEUE": queue,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cli", "reaper", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        message = json.loads(redis.Redis.from_url(REAPER_REDIS_URL).lpop(queue))
    finally:
        redis.Redis.from_url(REAPER_REDIS_URL).delete(queue)
    assert message["headers"]["argsrepr"] == f"['{job_id}', 1]"
    assert row(sessions, job_id).sent_at is not None
    assert "sent 1" in result.stderr
