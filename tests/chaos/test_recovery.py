"""Faults with real processes: kill -9, SIGTERM, Redis lost, PostgreSQL connections cut.

Every accepted job must end, exactly once, with exactly one result object.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.chaos import ENDED, Chaos, measured

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def test_kill_9_mid_job_then_a_new_worker_finishes_it_once(chaos: Chaos) -> None:
    chaos.workers.kill_all()
    (first,) = chaos.workers.start(1)
    job_id = chaos.submit(iterations=150)
    body = chaos.running_at(job_id, attempt=1)
    assert chaos.workers.running(body["worker"]) is first
    chaos.workers.kill(first)
    killed = time.monotonic()
    chaos.wait(job_id, lambda b: b["status"] == "queued", 120, "the reaper requeuing it")
    measured("kill -9 -> requeued by the reaper", time.monotonic() - killed)
    chaos.workers.start(1)
    ready = time.monotonic()
    final = chaos.wait(job_id, lambda b: b["status"] in ENDED, 60, "its end within 60 s")
    measured("new worker ready -> succeeded", time.monotonic() - ready)
    measured("  of which attempt 2 ran (run_s)", final["timings"]["run_s"] or 0)
    measured("kill -9 -> succeeded (incl. the new worker's start)", time.monotonic() - killed)
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 2
    assert len(chaos.results(job_id)) == 1, "exactly one result object"


def test_a_job_whose_workers_keep_dying_ends_worker_lost(chaos: Chaos) -> None:
    chaos.workers.ensure(2)  # the second takes attempt 2 once the first is killed
    job_id = chaos.submit(iterations=3000)
    for attempt in (1, 2):  # STYLIZE_JOB_MAX_ATTEMPTS=2
        body = chaos.running_at(job_id, attempt=attempt)
        chaos.workers.kill(chaos.workers.running(body["worker"]))
    killed = time.monotonic()
    final = chaos.wait(job_id, lambda b: b["status"] in ENDED, 120, "its end")
    measured("last kill -> failed worker_lost", time.monotonic() - killed)
    assert (final["status"], final["error"]["code"], final["attempts"]) == (
        "failed",
        "worker_lost",
        2,
    )
    assert "submit it again" in final["error"]["message"]
    assert chaos.results(job_id) == []


def test_redis_killed_and_restarted_empty_loses_no_queued_job(chaos: Chaos) -> None:
    chaos.workers.kill_all()  # nobody consumes: the five stay queued in Redis
    jobs = [chaos.submit(iterations=3, max_size=32) for _ in range(5)]
    assert {chaos.job(job_id)["status"] for job_id in jobs} == {"queued"}
    chaos.redis.kill()
    chaos.redis.start()  # empty: the five messages are gone
    restarted = time.monotonic()
    chaos.workers.start(1)
    for job_id in jobs:
        final = chaos.wait(job_id, lambda b: b["status"] in ENDED, 180, "its end")
        assert (final["status"], final["attempts"]) == ("succeeded", 1), final
        assert len(chaos.results(job_id)) == 1
    measured(
        "Redis restarted empty -> 5 of 5 succeeded (incl. worker start)",
        time.monotonic() - restarted,
    )


def test_sigterm_mid_job_hands_it_back_and_it_still_succeeds(chaos: Chaos) -> None:
    chaos.workers.ensure(2)
    job_id = chaos.submit(iterations=150)
    body = chaos.running_at(job_id, attempt=1)
    stopping = chaos.workers.running(body["worker"])
    os.kill(stopping.pid, signal.SIGTERM)  # STYLIZE_WORKER_SHUTDOWN_S=0: hand back at once
    signalled = time.monotonic()
    assert stopping.wait(timeout=120) == 0, chaos.workers.log_tail()
    measured("SIGTERM -> worker exited, job handed back", time.monotonic() - signalled)
    now = chaos.job(job_id)  # queued again, or already running on the other worker
    assert (now["status"], now["worker"]) != ("running", body["worker"]), "not left running"
    final = chaos.wait(job_id, lambda b: b["status"] in ENDED, 120, "its end")
    measured("SIGTERM -> succeeded on the other worker", time.monotonic() - signalled)
    assert (final["status"], final["attempts"]) == ("succeeded", 2), final
    assert final["worker"] != body["worker"]
    assert len(chaos.results(job_id)) == 1


def test_postgres_connections_cut_while_a_job_runs(chaos: Chaos) -> None:
    chaos.workers.ensure(1)
    job_id = chaos.submit(iterations=120)
    chaos.running_at(job_id, attempt=1)
    url = make_url(chaos.settings.database_url)
    admin = f"postgresql://postgres@{url.host}:{url.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        for _ in range(3):  # every connection of this test's database, the worker's included
            cut = connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (url.database,),
            ).fetchone()
            assert cut is not None
            response = chaos.client.get(f"/v1/jobs/{job_id}", headers=chaos.headers)
            assert response.status_code in (200, 503), response.get_data(as_text=True)
            time.sleep(0.5)  # spread the cuts over the run (not a synchronisation)
    final = chaos.wait(job_id, lambda b: b["status"] in ENDED, 180, "its end")
    assert final["status"] == "succeeded", final
    assert len(chaos.results(job_id)) == 1
    print(
        f"\nrecovery: connections cut 3 times mid-job: succeeded on attempt {final['attempts']}",
        file=sys.stderr,
    )
