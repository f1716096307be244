"""Webhooks end to end: a real worker queues them, a real `stylize webhooks` process delivers
them to a receiver on 127.0.0.1 (allowed by STYLIZE_WEBHOOK_ALLOW), signed, retried after a 500;
a private address is refused at submit."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.foundation.test_webhook_signature import documented_verify
from tests.support import WebhookReceiver, noise_png, wait_until
from tests.support.stack import Stack, start_webhooks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.parametrize("stack", ["sqlite"], indirect=True),  # HTTP and queues, not the DB
]


@pytest.fixture
def webhooks_process(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running `stylize webhooks` on the stack's webhooks queue; yields its log's path."""
    log = tmp_path_factory.mktemp("webhooks") / "webhooks.log"
    process = start_webhooks(stack.env, log)
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def submit(stack: Stack, params: dict) -> tuple[int, dict]:
    response = stack.client.post(
        "/v1/jobs",
        headers=stack.headers,
        data={
            "content": (io.BytesIO(noise_png(32, 24, 11)), "c.png"),
            "style": (io.BytesIO(noise_png(24, 24, 12)), "s.png"),
            "params": json.dumps(params),
        },
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_json()


def test_deliveries_are_signed_and_a_500_is_retried(
    stack: Stack, webhooks_process: Path
) -> None:
    receiver = WebhookReceiver(statuses=[500])  # the first delivery to arrive fails once
    try:
        status, job = submit(
            stack,
            {
                "iterations": 20,
                "max_size": 32,
                "webhook_url": receiver.url,
                "webhook_events": ["running", "progress", "completed"],
            },
        )
        assert status == 202, job
        stack.wait_for(job["id"], {"succeeded"})

        def retried_and_completed() -> bool:
            ids = [d.headers["X-Stylize-Delivery"] for d in receiver.deliveries]
            events = [d.headers["X-Stylize-Event"] for d in receiver.deliveries]
            return bool(ids) and ids.count(ids[0]) == 2 and "completed" in events

        wait_until(retried_and_completed, 180, "the retry and the completed delivery",
                   diagnostics=webhooks_process.read_text)  # fmt: skip
    finally:
        receiver.close()
    deliveries = receiver.deliveries
    verify = documented_verify()
    assert all(verify(stack.webhook_secret, d.headers, d.body) for d in deliveries)
    first, retry = [d for d in deliveries if d.headers["X-Stylize-Delivery"] ==
                    deliveries[0].headers["X-Stylize-Delivery"]]  # fmt: skip
    assert first.body == retry.body, "a retry resends the same body under a new signature"
    bodies = {d.headers["X-Stylize-Delivery"]: (d.headers["X-Stylize-Event"], json.loads(d.body))
              for d in deliveries}  # fmt: skip
    events = sorted(event for event, _ in bodies.values())
    progress = [body["progress"]["percent"] for event, body in bodies.values()
                if event == "progress"]  # fmt: skip
    assert events.count("running") == 1 and events.count("completed") == 1
    assert 1 <= len(progress) <= 10 and len({int(p // 10) for p in progress}) == len(progress)
    [completed] = [body for event, body in bodies.values() if event == "completed"]
    assert completed["id"] == job["id"] and completed["status"] == "succeeded"
    assert completed["progress"]["iteration"] == 20


def test_a_webhook_to_a_private_address_is_refused_at_submit(stack: Stack) -> None:
    status, problem = submit(stack, {"iterations": 2, "webhook_url": "http://10.20.30.40/hook"})
    assert status == 422
    assert problem["errors"][0]["field"] == "webhook_url"
    assert "private address" in problem["errors"][0]["message"]
