"""Liveness and readiness; readiness is checked at most once a second per app, so anyone
polling it cannot turn it into load on the database, the broker and storage."""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from api.db import get_session
from api.errors import ApiProblem

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
READY_CACHE_S = 1.0


class ReadinessCache:
    """The last readiness answer of one app and when it was taken."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at = float("-inf")
        self.results: dict[str, str] = {}


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (checks nothing else)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database, the broker and storage all answer; 503 naming what failed."""
    results = readiness()
    failed = [name for name, value in results.items() if value != "ok"]
    if failed:
        raise ApiProblem(
            503,
            "Service Unavailable",
            f"not ready: {', '.join(failed)} did not answer",
            errors=[{"field": name, "message": "did not answer"} for name in failed],
            headers={"Retry-After": "5"},
        )
    return jsonify({"status": "ready", "checks": results}), 200


def readiness() -> dict[str, str]:
    """Each part's answer, checked again only when the last check is over a second old."""
    cache = current_app.extensions.setdefault("stylize_readiness", ReadinessCache())
    with cache.lock:
        if time.monotonic() - cache.at < READY_CACHE_S:
            return cache.results
        checks = {"database": _database, "broker": _broker, "storage": _storage}
        results = {}
        for name, check in checks.items():
            try:
                results[name] = "ok" if check() else "failed"
            except Exception as exc:
                log.warning("readiness check %s failed: %s", name, exc)
                results[name] = "failed"
        cache.at, cache.results = time.monotonic(), results
        return results


def _database() -> bool:
    get_session().execute(text("SELECT 1"))
    return True


def _broker() -> bool:
    return current_app.extensions["stylize_channel"].ping()


def _storage() -> bool:
    return current_app.extensions["stylize_storage"].ping()
