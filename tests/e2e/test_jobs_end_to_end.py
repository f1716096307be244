"""Jobs travel the whole path: HTTP submit -> Redis -> real Celery worker -> storage -> HTTP."""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

from tests.support import noise_png, wait_until
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def submit(stack: Stack, params: dict, width: int = 48, height: int = 32) -> dict:
    """POST a job with a random content and style image; return the response body."""
    response = stack.client.post(
        "/v1/jobs",
        headers=stack.headers,
        data={
            "content": (io.BytesIO(noise_png(width, height, 1)), "content.png"),
            "style": (io.BytesIO(noise_png(40, 40, 2)), "style.png"),
            "params": json.dumps(params),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(response.get_json()["id"])
    return response.get_json()


LIFE = ["queued", "running", "succeeded"]  # a successful job's statuses, in order


def test_job_runs_to_success_with_monotonic_progress(stack: Stack) -> None:
    job = submit(stack, {"iterations": 12, "max_size": 48, "preview_every": 4})
    assert job["status"] == "queued"
    # The submit's answer is the first status seen: an idle worker may start the job before
    # the first poll.
    seen_statuses: list[str] = [job["status"]]
    iterations: list[int] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body = stack.client.get(f"/v1/jobs/{job['id']}", headers=stack.headers).get_json()
        if not seen_statuses or seen_statuses[-1] != body["status"]:
            seen_statuses.append(body["status"])
        iterations.append(body["progress"]["iteration"])
        if body["status"] in ("succeeded", "failed", "canceled"):
            break
        time.sleep(0.02)
    assert seen_statuses[-1] == "succeeded", (body, stack.worker_log.read_text()[-3000:])
    assert set(seen_statuses) <= set(LIFE), seen_statuses
    order = [LIFE.index(status) for status in seen_statuses]
    assert order == sorted(order), f"the status went backwards: {seen_statuses}"
    assert iterations == sorted(iterations), "progress went backwards"
    assert body["progress"]["iteration"] == 12
    assert body["metrics"]["weights_source"] == body["weights_source"] == "hed-bsds500"
    result = stack.client.get(f"/v1/jobs/{job['id']}/result", headers=stack.headers)
    assert result.status_code == 200
    assert result.mimetype == "image/png"
    image = Image.open(io.BytesIO(result.data))
    assert image.size == (48, 32)
    preview = stack.client.get(f"/v1/jobs/{job['id']}/preview", headers=stack.headers)
    assert preview.status_code == 200 and preview.mimetype == "image/png"


def test_sse_stream_sends_events_in_order_and_closes(stack: Stack) -> None:
    job = submit(stack, {"iterations": 8, "max_size": 32})
    response = stack.client.get(f"/v1/jobs/{job['id']}/events", headers=stack.headers)
    assert response.mimetype == "text/event-stream"
    events = parse_sse(response.get_data(as_text=True))  # returns only once the stream closed
    kinds = [kind for kind, _ in events]
    statuses = [data["status"] for kind, data in events if kind == "status"]
    progress = [data["iteration"] for kind, data in events if kind == "progress"]
    assert statuses[-1] == "succeeded"
    assert kinds[-1] == "status"
    assert "running" in statuses and statuses.index("running") < len(statuses) - 1
    assert progress == sorted(progress) and progress[-1] == 8
    late = stack.client.get(f"/v1/jobs/{job['id']}/events", headers=stack.headers)
    late_events = parse_sse(late.get_data(as_text=True))
    assert [kind for kind, _ in late_events] == ["status"], "a late client gets the end at once"
    assert late_events[-1][1]["status"] == "succeeded"


def test_cancel_running_and_queued_jobs(stack: Stack) -> None:
    running = submit(stack, {"iterations": 3000, "max_size": 64, "preview_every": 1})
    stack.wait_for(running["id"], {"running"})
    queued = submit(stack, {"iterations": 5, "max_size": 32})
    wait_for_iteration(stack, running["id"], 2)

    canceled_queued = stack.client.post(f"/v1/jobs/{queued['id']}/cancel", headers=stack.headers)
    assert canceled_queued.status_code == 200
    assert canceled_queued.get_json()["status"] == "canceled"

    cancel = stack.client.post(f"/v1/jobs/{running['id']}/cancel", headers=stack.headers)
    assert cancel.status_code in (200, 202)
    final = stack.wait_for(running["id"], {"canceled", "succeeded", "failed"})
    assert final["status"] == "canceled"
    assert final["progress"]["iteration"] < 3000
    preview = stack.client.get(f"/v1/jobs/{running['id']}/preview", headers=stack.headers)
    assert preview.status_code == 200, "a canceled job keeps its last preview"

    # The worker now takes the canceled job's message off the queue: it must not run it.
    wait_until(
        lambda: f"job {queued['id']} attempt 1 not due" in stack.worker_log.read_text(),
        120,
        "the worker dropping the canceled job's message",
        diagnostics=lambda: stack.worker_log.read_text()[-3000:],
    )
    never_ran = stack.client.get(f"/v1/jobs/{queued['id']}", headers=stack.headers).get_json()
    assert never_ran["status"] == "canceled"
    assert never_ran["timings"]["started_at"] is None
    assert never_ran["progress"]["iteration"] == 0


def wait_for_iteration(stack: Stack, job_id: str, iteration: int) -> None:
    """Wait until the job reports at least ``iteration``."""
    wait_until(
        lambda: (
            stack.client.get(f"/v1/jobs/{job_id}", headers=stack.headers).get_json()["progress"][
                "iteration"
            ]
            >= iteration
        ),
        180,
        f"job {job_id} reaching iteration {iteration}",
        interval=0.05,
    )


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of an SSE body, comments skipped."""
    events = []
    for block in text.split("\n\n"):
        kind, data = "message", None
        for line in block.splitlines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = json.loads(line.removeprefix("data:").strip())
        if data is not None:
            events.append((kind, data))
    return events


def test_model_loaded_once_before_ready_and_reused(stack: Stack) -> None:
    """The worker loads VGG16 once, before it consumes, and runs every job on that load."""
    already = stack.worker_log.read_text().count("] received")
    for _ in range(2):
        job = submit(stack, {"iterations": 2, "max_size": 32})
        final = stack.wait_for(job["id"], {"succeeded", "failed", "canceled"})
        assert final["status"] == "succeeded", final
    log = stack.worker_log.read_text()
    assert log.count("VGG16 loaded from hed-bsds500") == 1, log[-3000:]
    assert log.index("VGG16 loaded from") < log.index("ready.")
    assert log.count("] received") >= already + 2, "both jobs ran on the one load"
