"""What makes a status poll cheap: the per-process key cache (revocation waits for its TTL),
the one-command rate-limit counter, and a database pool as large as the thread count."""

from __future__ import annotations

import time
import uuid

from api import create_app
from api.db import api_sessions
from api.key_cache import KeyCache, KeyInfo
from api.rate_limit import KeyRateLimiter
from shared.api_keys import create_key, revoke_key
from shared.db.session import session_factory
from shared.settings import Settings
from tests.support.api import REDIS_URL, RecordingSender


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_info(name: str = "k") -> KeyInfo:
    return KeyInfo(uuid.uuid4(), name, False, None, None, None)


def test_the_cache_trusts_a_key_for_its_ttl_only() -> None:
    clock = FakeClock()
    cache = KeyCache(2.0, clock)
    info = key_info()
    assert cache.get("h") is None
    cache.put("h", info)
    clock.now += 1.9
    assert cache.get("h") is info
    clock.now += 0.1
    assert cache.get("h") is None, "expired at exactly the TTL"
    assert cache.get("h") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = KeyCache(0.0, FakeClock())
    cache.put("h", key_info())
    assert cache.get("h") is None


def test_a_revoked_key_stops_working_once_its_cache_entry_expires(
    settings: Settings, sender: RecordingSender
) -> None:
    app = create_app(settings.model_copy(update={"auth_cache_s": 60.0}), task_sender=sender)
    clock = FakeClock()
    app.extensions["stylize_key_cache"] = KeyCache(60.0, clock)
    client = app.test_client()
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "soon-revoked")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/jobs", headers=headers).status_code == 200
    with session_factory(settings.database_url)() as session:
        assert revoke_key(session, secret[:12])
    assert client.get("/v1/jobs", headers=headers).status_code == 200, "trusted for the TTL"
    clock.now += 60.0
    refused = client.get("/v1/jobs", headers=headers)
    assert refused.status_code == 401, "asked the database again and found it revoked"
    clock.now += 1000.0
    assert client.get("/v1/jobs", headers=headers).status_code == 401, "refusals are not cached"


def test_without_the_cache_a_revoked_key_is_refused_at_once(
    settings: Settings, sender: RecordingSender
) -> None:
    client = create_app(
        settings.model_copy(update={"auth_cache_s": 0.0}), task_sender=sender
    ).test_client()
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "revoked-now")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/jobs", headers=headers).status_code == 200
    with session_factory(settings.database_url)() as session:
        assert revoke_key(session, secret[:12])
    assert client.get("/v1/jobs", headers=headers).status_code == 401


def test_a_new_key_works_at_once_and_a_wrong_one_never(
    settings: Settings, sender: RecordingSender
) -> None:
    client = create_app(settings, task_sender=sender).test_client()
    wrong = {"Authorization": "Bearer sty_not-a-key"}
    assert client.get("/v1/jobs", headers=wrong).status_code == 401
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "fresh")
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert client.get("/v1/jobs", headers=wrong).status_code == 401


def test_the_limit_refuses_the_n_plus_first_request_of_a_key(
    settings: Settings, sender: RecordingSender
) -> None:
    client = create_app(settings, task_sender=sender).test_client()
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "counted", rate_limit_per_minute=5)
    headers = {"Authorization": f"Bearer {secret}"}
    statuses = [client.get("/v1/jobs", headers=headers).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_a_window_boundary_does_not_double_the_rate_on_real_redis() -> None:
    """A fixed window would let 2N through: N at the end of one window, N at the start of the
    next. The sliding window counts the previous window's N against the new one."""
    limiter, key, limit, window = KeyRateLimiter(REDIS_URL, window_s=2), uuid.uuid4(), 20, 2
    while time.time() % window < window - 0.4:  # just before a window boundary
        time.sleep(0.02)
    first = sum(limiter.allow(key, limit) for _ in range(limit))
    while time.time() % window > window / 4:  # just after it
        time.sleep(0.02)
    second = sum(limiter.allow(key, limit) for _ in range(limit))
    assert first == limit
    assert second <= limit // 4, f"{second} more allowed right after the boundary"
    time.sleep(2 * window)
    assert limiter.allow(key, limit), "a whole quiet window later the key may send again"


def test_the_limiter_lets_requests_through_when_redis_is_down(
    settings: Settings, sender: RecordingSender
) -> None:
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    client = create_app(down, task_sender=sender).test_client()
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "no-redis", rate_limit_per_minute=1)
    headers = {"Authorization": f"Bearer {secret}"}
    assert [client.get("/v1/jobs", headers=headers).status_code for _ in range(2)] == [200, 200]


def test_the_api_serves_with_gevent_and_a_pool_of_its_setting(settings: Settings) -> None:
    from api import gunicorn_config

    pooled = settings.model_copy(update={"api_db_pool": 12})
    assert api_sessions(pooled).kw["bind"].pool.size() == 12
    assert gunicorn_config.worker_class == "gevent"
    assert gunicorn_config.worker_connections == gunicorn_config._settings.api_connections
