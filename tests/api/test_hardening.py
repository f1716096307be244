"""The edges: security headers on every answer, no inline script or style, /metrics behind a
token when one is set, /readyz checked at most once a second, every bad query value a 4xx."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from api import create_app, health
from shared.settings import Settings
from tests.support.api import RecordingSender


@pytest.mark.parametrize("path", ["/", "/docs", "/v1", "/v1/jobs", "/healthz", "/static/app.js"])
def test_every_answer_has_the_security_headers(client: FlaskClient, auth: dict, path: str) -> None:
    response = client.get(path, headers=auth)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_the_pages_need_no_inline_script_or_style(client: FlaskClient, path: str) -> None:
    page = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline <script>"
    assert "<style" not in page and not re.search(r"\sstyle=\"", page), "inline style"
    assert not re.search(r"\son[a-z]+=\"", page), "an inline event handler"


def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    guarded = create_app(
        settings.model_copy(update={"metrics_token": "s3cret"}), task_sender=RecordingSender()
    )
    client = guarded.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and b"stylize_storage_bytes" in answer.data


def test_readyz_checks_at_most_once_a_second(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(health, "_checked", (float("-inf"), {}))
    monkeypatch.setattr(health, "_database", lambda: calls.append(1) or True)
    assert all(client.get("/readyz").status_code == 200 for _ in range(20))
    assert len(calls) == 1, "twenty requests in well under a second: one check"


@pytest.mark.parametrize(
    "query",
    [
        "limit=²",
        "limit=0",
        "limit=101",
        "limit=1e2",
        "limit=",
        "status=done",
        "owner=you",
        "cursor=abc",
        "stauts=queued",
        "limit=1&limit=2",
    ],
)
def test_every_bad_query_value_is_a_422(client: FlaskClient, auth: dict, query: str) -> None:
    response = client.get(f"/v1/jobs?{query}", headers=auth)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] in query
