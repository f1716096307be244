"""Bearer-key authentication for /v1 and the per-key rate limit (api/rate_limit.py).

A checked key is trusted for ``STYLIZE_AUTH_CACHE_S`` by the process that checked it
(``api.key_cache``); the rate limit costs one Redis round trip per request.
"""

from __future__ import annotations

import redis
from flask import Blueprint, Flask, current_app, g, request
from limits.errors import StorageError

from api.db import get_session
from api.errors import ApiProblem
from api.key_cache import KeyCache, KeyInfo
from api.rate_limit import KeyRateLimiter
from shared.api_keys import SECRET_PREFIX, authenticate, hash_secret


def init_app(app: Flask) -> None:
    """The process's key cache and rate limiter."""
    settings = app.config["STYLIZE"]
    app.extensions["stylize_key_cache"] = KeyCache(settings.auth_cache_s)
    app.extensions["stylize_rate_limiter"] = KeyRateLimiter(settings.broker_url)


def lookup_key(secret: str) -> KeyInfo | None:
    """The live key for ``secret``: from this process's cache while fresh, else the database."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    cache: KeyCache = current_app.extensions["stylize_key_cache"]
    secret_hash = hash_secret(secret)
    cached = cache.get(secret_hash)
    if cached is not None:
        return cached
    key = authenticate(get_session(), secret)
    if key is None:
        return None
    info = KeyInfo.of(key)
    cache.put(secret_hash, info)
    return info


def require_key() -> None:
    """``before_request`` for /v1: set ``g.owner_id`` and ``g.api_key`` or answer 401/429."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    key = lookup_key(secret.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        challenge = 'Bearer realm="stylize"'
        if header:  # RFC 6750: say the credentials were refused, not merely missing
            challenge += ', error="invalid_token"'
        raise ApiProblem(
            401,
            "Unauthorized",
            "send 'Authorization: Bearer <key>' with a valid, unrevoked key; create one with "
            "'stylize keys create NAME'",
            headers={"WWW-Authenticate": challenge},
        )
    g.owner_id = key.id
    g.api_key = key
    check_rate_limit(key)


def check_rate_limit(key: KeyInfo) -> None:
    """At most the key's own limit, else STYLIZE_RATE_LIMIT_PER_MINUTE, requests per minute."""
    limit = key.rate_limit_per_minute or current_app.config["STYLIZE"].rate_limit_per_minute
    limiter: KeyRateLimiter = current_app.extensions["stylize_rate_limiter"]
    try:
        if limiter.allow(key.id, limit):
            return
        retry = limiter.retry_after_s(key.id, limit)
    except (redis.RedisError, StorageError):
        return  # the limiter protects the GPUs; it must not take the API down with Redis
    raise ApiProblem(
        429,
        "Too Many Requests",
        f"more than {limit} requests in the last minute; retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )


def protect(blueprint: Blueprint) -> None:
    """Require a key on every route of ``blueprint``."""
    blueprint.before_request(require_key)
