"""Bearer-key authentication for /v1 and a per-key fixed-window rate limit."""

from __future__ import annotations

import time

import redis
from flask import Blueprint, current_app, g, request

from api.db import get_session
from api.errors import ApiProblem
from shared.api_keys import authenticate
from shared.db.api_key import ApiKey


def require_key() -> None:
    """``before_request`` for /v1: set ``g.owner_id`` and ``g.api_key`` or answer 401/429."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    key = authenticate(get_session(), secret.strip()) if scheme.lower() == "bearer" else None
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


def check_rate_limit(key: ApiKey) -> None:
    """At most the key's own limit, else STYLIZE_RATE_LIMIT_PER_MINUTE, requests per minute."""
    limit = key.rate_limit_per_minute or current_app.config["STYLIZE"].rate_limit_per_minute
    window = int(time.time() // 60)
    counter = f"stylize:rate:{key.id}:{window}"
    client: redis.Redis = current_app.extensions["stylize_redis"]
    try:
        pipe = client.pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        count = pipe.execute()[0]
    except redis.RedisError:
        return  # the limiter protects the GPUs; it must not take the API down with Redis
    if count > limit:
        retry = 60 - int(time.time() % 60)
        raise ApiProblem(
            429,
            "Too Many Requests",
            f"more than {limit} requests this minute; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )


def protect(blueprint: Blueprint) -> None:
    """Require a key on every route of ``blueprint``."""
    blueprint.before_request(require_key)
