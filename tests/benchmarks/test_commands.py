"""Each service benchmark once, for real, on tiny settings: a real gunicorn API, a scratch
PostgreSQL database, Redis, real workers and wrk. Only the shape and sanity of the figures
are checked, never their size."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from cli.main import cli

pytestmark = pytest.mark.integration
ENV = {"STYLIZE_VGG_WEIGHTS": "hed"}


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["bench", *args, "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_bench_queue_measures_every_job_and_one_overhead_figure() -> None:
    numbers = run_json("queue", "--jobs", "3", "--no-progress")
    report = numbers["queue"]
    assert numbers["database"] == "postgresql" and report["jobs"] == 3
    for name in ("submit_to_running_ms", "submit_http_ms", "worker_extra_ms", "overhead_ms"):
        figures = report[name]
        assert figures["p50"] <= figures["p99"] <= figures["max"]
    assert report["submit_to_running_ms"]["p50"] > 0
    assert report["overhead_p50_ms"] == report["overhead_ms"]["p50"]


def test_bench_api_loads_every_endpoint_of_both_configurations() -> None:
    assert shutil.which("wrk"), "needs wrk: apt-get install -y wrk (the test fails, never skips)"
    numbers = run_json(
        "api",
        "--seconds",
        "1",
        "--warmup",
        "0",
        "--connections",
        "2",
        "--against",
        "STYLIZE_AUTH_CACHE_S=0",
    )
    assert [row["label"] for row in numbers["configs"]] == [
        "this checkout",
        "STYLIZE_AUTH_CACHE_S=0",
    ]
    for row in numbers["configs"]:
        for endpoint in ("poll", "list", "submit"):
            result = row[endpoint]
            assert result["requests"] > 0 and result["errors"] == 0, (endpoint, result)
            assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


@pytest.mark.slow
def test_bench_scale_runs_the_same_jobs_with_one_then_two_workers() -> None:
    numbers = run_json(
        "scale", "--jobs", "2", "--iterations", "2", "--size", "32", "--gpu-hosts", "1,3"
    )
    assert [run["workers"] for run in numbers["runs"]] == [1, 2]
    assert all(run["jobs"] == 2 and run["jobs_per_min"] > 0 for run in numbers["runs"])
    per_host = numbers["projection_per_host_jobs_per_min"]
    assert [row["jobs_per_min"] for row in numbers["projection"]] == [
        round(per_host, 1),
        round(3 * per_host, 1),
    ]


@pytest.mark.slow
def test_bench_soak_ends_every_job_once_and_leaks_nothing() -> None:
    report = run_json("soak", "--minutes", "0.2", "--sqlite")
    assert report["accepted"] > 0
    assert report["ended_exactly_once"] == report["accepted"]
    assert report["leaked_files"] == 0
    assert report["webhooks_per_ended_job_good_receiver"] == 1.0
    assert report["completed_messages"]["hostile"]["delivered"] == 0, "it never answers"
    assert set(report["max_rss_mb"]) == {"api", "worker", "reaper", "webhooks"}
    assert 0 < report["api_ms"]["p50"] <= report["api_ms"]["p99"]
