"""The app as a whole: problem+json for every error, health, docs, and no TensorFlow."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from kombu.exceptions import OperationalError
from openapi_spec_validator import validate

from api import create_app
from api.task_queue import celery_sender
from shared.db.job import FailureCode
from shared.job_limits import hard_time_limit_s
from shared.params import DEFAULTS_BY_SIZE, JobParams
from shared.settings import Settings
from shared.task_names import RUN_JOB_TASK
from shared.webhooks.signing import VERIFY_SNIPPET
from tests.support.api import REDIS_URL, RecordingSender


def test_flask_errors_are_problems(client: FlaskClient, auth: dict) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong_method = client.delete("/v1/jobs", headers=auth)
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "application/problem+json"
    assert "POST" in wrong_method.headers["Allow"]


def test_health_readiness_and_docs(
    client: FlaskClient, settings: Settings, sender: RecordingSender
) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["broker"] == "ok"
    spec = client.get("/openapi.json").get_json()
    validate(spec)  # OpenAPI 3.1 against its published schema
    assert spec["openapi"].startswith("3.1")
    params = spec["components"]["schemas"]["JobParams"]["properties"]
    assert params["max_size"]["default"] == JobParams().max_size
    for name in DEFAULTS_BY_SIZE:
        assert "default" not in params[name], f"{name} depends on max_size: the description says"
    assert set(params) == set(JobParams.model_fields)
    page = client.get("/docs").get_data(as_text=True)
    assert "style_weight" in page and "/v1/jobs/{job_id}/events" in page
    assert "<script" not in page and "src=" not in page, "no external assets: there is no network"


def test_docs_tell_the_truth(client: FlaskClient) -> None:
    """Every failure code, the real default of every parameter, how to get a key and one
    copyable request first, and webhooks described as they are built."""
    spec = client.get("/openapi.json").get_json()
    codes = spec["components"]["schemas"]["JobError"]["properties"]["code"]["oneOf"]
    assert {code["const"]: code["description"] for code in codes} == {
        code.value: code.meaning for code in FailureCode
    }
    page = client.get("/docs").get_data(as_text=True)
    assert all(f"<code>{code.value}</code>" in page for code in FailureCode)
    for name, value in JobParams().model_dump(mode="json").items():
        row = page[page.index(f"<td><code>{name}</code></td>") :][:400]
        shown = "by max_size" if name in DEFAULTS_BY_SIZE else json.dumps(value)
        assert f"<td><code>{shown}</code></td>" in html.unescape(row), name
    assert "None" not in page
    text = html.unescape(page)
    assert text.index("stylize keys create NAME") < text.index("<h2>Endpoints")
    assert 'curl -s -H "Authorization: Bearer $KEY" -F content=@photo.jpg' in text
    assert "http://localhost/v1/jobs" in text, "the request names this server"
    webhook = spec["components"]["schemas"]["JobParams"]["properties"]["webhook_url"]
    assert "X-Stylize-Signature" in webhook["description"]
    assert "not built" not in text and VERIFY_SNIPPET in text


def test_v1_index_links_resolve_and_root_serves_the_page(client: FlaskClient, auth: dict) -> None:
    index = client.get("/v1")
    assert index.status_code == 200
    links = index.get_json()["links"]
    assert links == {"docs": "/docs", "openapi": "/openapi.json", "jobs": "/v1/jobs", "web": "/"}
    assert all(client.get(link, headers=auth).status_code == 200 for link in links.values())
    assert "stylize keys create" in index.get_json()["auth"]
    root = client.get("/")
    assert root.status_code == 200 and root.mimetype == "text/html"
    assert "<title>Stylize</title>" in root.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_the_web_page_loads_nothing_from_elsewhere(client: FlaskClient, path: str) -> None:
    """It works offline: every asset is served by the API itself."""
    text = client.get(path).get_data(as_text=True)
    assert text and not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE)
    assert "@import" not in text and "url(" not in text


def test_readyz_names_a_dead_broker(settings: Settings, sender: RecordingSender) -> None:
    dead = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    response = create_app(dead, task_sender=sender).test_client().get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert [e["field"] for e in response.get_json()["errors"]] == ["broker"]


def test_internal_errors_hide_the_traceback(app: Flask, client: FlaskClient) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_importing_the_api_never_loads_tensorflow(settings: Settings) -> None:
    code = (
        "import sys, api\n"
        "from shared.settings import Settings\n"
        f"api.create_app(Settings(database_url={settings.database_url!r}, "
        f"storage_url={settings.storage_url!r}, broker_url={REDIS_URL!r}))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
        "[m for m in sys.modules if m.startswith(('tensorflow', 'keras'))][:3]\n"
        "assert not [m for m in sys.modules if m.startswith('worker')]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_celery_sender_queues_the_task_and_fails_fast_without_a_broker(
    settings: Settings,
) -> None:
    queue = settings.model_copy(update={"gpu_queue": "test-gpu"})
    redis.Redis.from_url(REDIS_URL).delete("test-gpu")
    celery_sender(queue)("job-1", 2, JobParams())
    message = json.loads(redis.Redis.from_url(REDIS_URL).lpop("test-gpu"))
    assert message["headers"]["task"] == RUN_JOB_TASK
    assert message["headers"]["argsrepr"] == "['job-1', 2]"
    # the hard limit as a backstop; the soft limit is the worker's own deadline
    assert message["headers"]["timelimit"] == [hard_time_limit_s(JobParams()), None]
    dead = celery_sender(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}))
    started = time.monotonic()
    with pytest.raises(OperationalError):
        dead("job-2", 1, JobParams())
    assert time.monotonic() - started < 5  # kombu's default retries take ~6 s
