"""Honest ETAs: a real worker runs a 60-iteration job while the test polls it with its own clock.

Every ETA shown after 20 % of the iterations must be within ±30 % of the time that actually
remained (give or take 0.15 s, the test clock's own precision under load). The test knows the
end only to within its polling: between the last poll that saw the job running and the first
that saw it finished; an ETA passes when it is within ±30 % of some moment in that window.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.support import noise_png
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.parametrize("stack", ["sqlite"], indirect=True),  # timing, not the DB
]
ITERATIONS = 60
TOLERANCE = 0.3
# The test's own clock is only this good on a loaded 2-core machine (a poll every 30 ms, each
# request taking tens of ms): in the last half-second ±30 % is finer than it can see.
CLOCK_SLACK_S = 0.15


# An ETA is judged against the time that then remained, so it can only be right while the
# machine keeps its pace. CI runs other stages beside this test (./dev test), and when one of
# them ends mid-job the iterations speed up by a quarter (2026-12-07: every ETA of iterations
# 31-34 was 38 % long). A second job is run then; both wrong fails.
ATTEMPTS = 2


def test_every_eta_after_20_percent_is_within_30_percent(stack: Stack, tmp_path: Path) -> None:
    traces = []
    for attempt in range(1, ATTEMPTS + 1):
        body, trace, wrong = judged_job(stack)
        traces.append(f"attempt {attempt}:\n" + "\n".join(trace))
        if not wrong:
            break
    (tmp_path / "eta-trace.txt").write_text("\n\n".join(traces))
    print("\n\n".join(traces))  # the traces for the record (pytest -s)
    assert not wrong, f"ETAs off by more than 30 % in {ATTEMPTS} jobs, the last:\n" + "\n".join(
        wrong
    )
    assert body["timings"]["warmup_s"] > 0 and body["progress"]["eta_s"] is None
    assert body["metrics"]["ms_per_iter"] == round(body["metrics"]["ms_per_iter"], 1)


def judged_job(stack: Stack) -> tuple[dict, list[str], list[str]]:
    """Run one job, polling it: its final document, every ETA shown after 20 % of the
    iterations beside the time that actually remained, and those off by more than 30 %."""
    response = stack.client.post(
        "/v1/jobs",
        headers=stack.headers,
        data={
            "content": (io.BytesIO(noise_png(128, 96, 3)), "c.png"),
            "style": (io.BytesIO(noise_png(64, 64, 4)), "s.png"),
            "params": json.dumps({"iterations": ITERATIONS, "max_size": 128}),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    url = f"/v1/jobs/{response.get_json()['id']}"
    shown: list[tuple[float, int, float]] = []  # (test clock, iteration, eta_s)
    last_running = time.monotonic()
    deadline = last_running + 600
    while time.monotonic() < deadline:
        polled = time.monotonic()
        body = stack.client.get(url, headers=stack.headers).get_json()
        if body["status"] not in ("queued", "running"):
            ended = time.monotonic()
            break
        last_running = polled
        progress = body["progress"]
        if progress["iteration"] >= ITERATIONS // 5 and progress["eta_s"] is not None:
            shown.append((polled, progress["iteration"], progress["eta_s"]))
        time.sleep(0.03)
    else:
        pytest.fail(f"the job did not end; worker log:\n{stack.worker_log.read_text()[-3000:]}")
    assert body["status"] == "succeeded", body
    assert len({iteration for _, iteration, _ in shown}) >= ITERATIONS // 2, "polled throughout"

    trace, wrong = [], []
    for polled, iteration, eta in shown:
        low, high = last_running - polled, ended - polled  # what actually remained
        trace.append(f"{iteration:3d}  eta {eta:6.2f} s  remained {low:6.2f}..{high:6.2f} s")
        shortest = (1 - TOLERANCE) * low - CLOCK_SLACK_S
        if not shortest <= eta <= (1 + TOLERANCE) * high + CLOCK_SLACK_S:
            wrong.append(trace[-1])
    return body, trace, wrong
