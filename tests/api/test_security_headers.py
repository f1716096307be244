"""Security headers on every answer; the pages need no inline script or style."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient


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
