"""Webhooks end to end: a real worker puts them in the outbox, a real `stylize webhooks` process
delivers them to a receiver on 127.0.0.1 (allowed by STYLIZE_WEBHOOK_ALLOW) as Standard
Webhooks verified by the documented receiver, retried after a 500, listed with their attempts;
a cancel while queued sends its completed message too; a private address is refused at submit."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared.webhooks.test_signing import documented_verify
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


def test_deliveries_are_signed_and_a_500_is_retried(stack: Stack, webhooks_process: Path) -> None:
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
            ids = [d.headers["webhook-id"] for d in receiver.deliveries]
            types = [json.loads(d.body)["type"] for d in receiver.deliveries]
            return bool(ids) and ids.count(ids[0]) == 2 and "job.completed" in types

        wait_until(
            retried_and_completed,
            180,
            "the retry and the completed delivery",
            diagnostics=webhooks_process.read_text,
        )
    finally:
        receiver.close()
    deliveries = receiver.deliveries
    verify = documented_verify()
    messages = [verify(stack.webhook_secret, d.headers, d.body) for d in deliveries]
    first_id = deliveries[0].headers["webhook-id"]
    first, retry = [d for d in deliveries if d.headers["webhook-id"] == first_id]
    assert first.body == retry.body, "a retry resends the same body under a new signature"
    by_id = {d.headers["webhook-id"]: m for d, m in zip(deliveries, messages, strict=True)}
    types = sorted(message["type"] for message in by_id.values())
    progress = [
        m["data"]["progress"]["percent"] for m in by_id.values() if m["type"] == "job.progress"
    ]
    assert types.count("job.running") == 1 and types.count("job.completed") == 1
    assert 1 <= len(progress) <= 10 and len({int(p // 10) for p in progress}) == len(progress)
    [completed] = [m["data"] for m in by_id.values() if m["type"] == "job.completed"]
    assert completed["id"] == job["id"] and completed["status"] == "succeeded"
    assert completed["progress"]["iteration"] == 20
    listed = stack.client.get(f"/v1/jobs/{job['id']}/deliveries", headers=stack.headers)
    attempts = {d["webhook_id"]: d for d in listed.get_json()["deliveries"]}
    assert attempts[first_id]["attempts"] == 2 and attempts[first_id]["status"] == "delivered"
    assert [h["status_code"] for h in attempts[first_id]["history"]] == [500, 200]


def test_a_job_canceled_while_queued_sends_its_completed_webhook(
    stack: Stack, webhooks_process: Path
) -> None:
    receiver = WebhookReceiver()
    try:
        blocker_status, blocker = submit(stack, {"iterations": 200, "max_size": 48})
        assert blocker_status == 202
        status, job = submit(stack, {"iterations": 5, "webhook_url": receiver.url})
        assert status == 202
        canceled = stack.client.post(f"/v1/jobs/{job['id']}/cancel", headers=stack.headers)
        stack.client.post(f"/v1/jobs/{blocker['id']}/cancel", headers=stack.headers)
        if canceled.status_code == 200:  # it was still queued behind the blocker
            wait_until(
                lambda: receiver.deliveries,
                60,
                "the completed delivery",
                diagnostics=webhooks_process.read_text,
            )
            [got] = receiver.deliveries
            message = documented_verify()(stack.webhook_secret, got.headers, got.body)
            assert (message["type"], message["data"]["status"]) == ("job.completed", "canceled")
        else:
            pytest.fail(f"the job was not queued when canceled: {canceled.get_json()}")
    finally:
        receiver.close()


def test_a_webhook_to_a_private_address_is_refused_at_submit(stack: Stack) -> None:
    status, problem = submit(stack, {"iterations": 2, "webhook_url": "http://10.20.30.40/hook"})
    assert status == 422
    assert problem["errors"][0]["field"] == "webhook_url"
    assert "private address" in problem["errors"][0]["message"]
