"""Readiness is checked at most once a second, whoever polls it."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from api import health


def test_readyz_checks_at_most_once_a_second(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(health, "_database", lambda: calls.append(1) or True)
    assert all(client.get("/readyz").status_code == 200 for _ in range(20))
    assert len(calls) == 1, "twenty requests in well under a second: one check"
