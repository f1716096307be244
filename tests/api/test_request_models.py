"""Every query value of the job list that is not valid is a 422 naming it."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


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
