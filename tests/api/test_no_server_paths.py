"""No response body carries a server file path: every route, with a job the worker finished."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from shared.db.session import session_factory
from shared.settings import Settings
from tests.support import REPO, RecordingChannel
from tests.support.api import submit
from worker.engine import StyleEngine
from worker.job_context import JobContext
from worker.tasks import execute_job

IMAGE_TYPES = ("image/png", "image/jpeg")


def server_paths(settings: Settings) -> list[str]:
    """Directories whose names must never reach a client."""
    storage_root = settings.storage_url.removeprefix("file://")
    database = settings.database_url.removeprefix("sqlite:///")
    here = REPO
    return [storage_root, str(Path(database).parent), str(here), sys.prefix, "site-packages"]


def finished_job(app: Flask, client: FlaskClient, auth: dict, settings: Settings) -> str:
    """A job submitted over HTTP and run by the real task code with the real weights."""
    job_id = submit(client, auth, iterations="2", max_size="32", preview_every="1").get_json()["id"]
    ctx = JobContext(
        settings=settings,
        sessions=session_factory(settings.database_url),
        storage=app.extensions["stylize_storage"],
        channel=RecordingChannel(),  # type: ignore[arg-type]
        engine=StyleEngine.load("hed"),  # its file lives in site-packages
        worker="w",
    )
    assert execute_job(uuid.UUID(job_id), 1, ctx) == "succeeded"
    return job_id


def test_no_body_names_a_server_path(
    app: Flask, client: FlaskClient, auth: dict, settings: Settings
) -> None:
    job_id = finished_job(app, client, auth, settings)
    body = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()
    assert body["weights_source"] == body["metrics"]["weights_source"] == "hed-bsds500"
    urls = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?job_id>", job_id, rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?filename>", "app.js", path)
        path = re.sub(r"<(?:[^:>]+:)?delivery_id>", str(uuid.uuid4()), path)
        if "<" in path:  # a parameter this test does not know: fail loudly, never skip
            raise AssertionError(f"teach this test the parameter of {rule.rule}")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.add((method, path))
    urls |= {
        ("GET", "/v1/jobs/not-a-uuid"),
        ("GET", "/nowhere"),
        ("DELETE", "/v1/jobs"),
        ("GET", "/v1/jobs?limit=0"),
        ("POST", "/v1/jobs"),
    }
    forbidden = server_paths(settings)
    checked = 0
    for method, path in sorted(urls, key=lambda url: (url[0] == "DELETE", url)):  # DELETE last
        response = client.open(path, method=method, headers=auth)
        if response.mimetype in IMAGE_TYPES:
            continue
        body = response.get_data(as_text=True)
        leaks = [name for name in forbidden if name and name in body]
        assert not leaks, f"{method} {path} ({response.status_code}) shows {leaks}"
        checked += 1
    assert checked >= 12, "the walk reached the routes"
