"""Admission by memory, with budgets advertised in the real Redis as workers do: a job that
fits no live worker is refused at submit, from its images' headers; lapsed workers do not
count; with none advertising, the worker's own check is left to decide."""

from __future__ import annotations

import time

import redis
from flask.testing import FlaskClient

from shared.memory_model import COEFFICIENTS
from shared.worker_budgets import BUDGETS_KEY, TTL_S, advertise, largest_budget
from tests.support.api import REDIS_URL, RecordingSender, submit

# Less than the engine's fixed working memory: no job fits, whatever its size or tiles.
TOO_SMALL_MB = float(int(COEFFICIENTS["tensorflow", "float32"].base_mb) // 2)  # whole MB


def budgets() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(BUDGETS_KEY)
    return client


def test_a_job_that_fits_no_worker_is_refused_before_decoding(
    client: FlaskClient, auth: dict, sender: RecordingSender
) -> None:
    advertise(budgets(), "small@host", TOO_SMALL_MB)
    response = submit(client, auth)
    assert response.status_code == 422
    assert "fits no worker's memory" in response.get_json()["detail"]
    assert sender.sent == []


def test_the_largest_live_worker_decides(client: FlaskClient, auth: dict) -> None:
    redis_client = budgets()
    advertise(redis_client, "small@host", TOO_SMALL_MB)
    advertise(redis_client, "big@host", 8000)
    assert submit(client, auth).status_code == 202
    advertise(redis_client, "big@host", 8000, now=time.time() - TTL_S - 1)  # it went away
    assert largest_budget(redis_client) == TOO_SMALL_MB
    assert redis_client.hkeys(BUDGETS_KEY) == [b"small@host"], "the lapsed entry is pruned"
    assert submit(client, auth).status_code == 422


def test_with_no_worker_advertising_nothing_is_refused_here(
    client: FlaskClient, auth: dict
) -> None:
    budgets()
    assert submit(client, auth).status_code == 202
