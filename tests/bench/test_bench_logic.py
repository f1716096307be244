"""The service benchmarks' arithmetic and parsing: percentiles, wrk's report, multipart bodies,
configurations, per-job figures and the N GPU hosts projection (no timing asserted)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from bench.api_load import parse_config
from bench.queue import JobTiming, job_timing, queue_report
from bench.scale import jobs_per_minute, projection
from bench.stats import percentile, summary
from bench.wrk import INSTALL_HINT, WrkError, multipart_body, parse_report, wrk_command


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    assert percentile(values, 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_rounds_p50_p99_max() -> None:
    assert summary([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.5, "p99": 3.97, "max": 4.0}


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/v1/jobs/x
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.10ms    5.01ms  60.00ms   80.00%
    Req/Sec   600.00     50.00   700.00     70.00%
  5883 requests in 10.00s, 9.00MB read
Requests/sec:    588.30
Transfer/sec:      0.90MB
STYLIZE_WRK {"requests": 5883, "duration_us": 10000000, "bytes": 9437184, "p50_us": 12820, \
"p90_us": 20000, "p99_us": 43830, "max_us": 60000, "mean_us": 13100.0, "connect_errors": 0, \
"read_errors": 1, "write_errors": 0, "status_errors": 2, "timeouts": 3}
"""


def test_wrk_report_is_read_from_the_lua_line() -> None:
    result = parse_report(WRK_OUTPUT)
    assert result.requests == 5883 and result.seconds == 10.0
    assert result.requests_per_s == 588.3
    latencies = (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms)
    assert latencies == (12.82, 20.0, 43.83, 60.0)
    assert result.errors == 6, "read errors, statuses >= 400 and timeouts all count"


def test_wrk_output_without_the_report_line_is_an_error() -> None:
    with pytest.raises(WrkError, match="no report"):
        parse_report("Running 10s test @ http://x\nRequests/sec: 1.0\n")


def test_wrk_command_uses_one_thread_and_passes_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.wrk.shutil.which", lambda _name: "/usr/bin/wrk")
    headers = {"Authorization": "Bearer k"}
    argv = wrk_command("http://h/v1/jobs", 8, 9.6, Path("s.lua"), headers)
    assert argv[:4] == ["/usr/bin/wrk", "-t1", "-c8", "-d10s"]
    assert argv[argv.index("-H") : argv.index("-H") + 2] == ["-H", "Authorization: Bearer k"]
    assert argv[-1] == "http://h/v1/jobs"


def test_missing_wrk_says_how_to_install_it_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.wrk.shutil.which", lambda _name: None)
    with pytest.raises(WrkError) as caught:
        wrk_command("http://h", 1, 1, Path("s.lua"), {})
    assert str(caught.value) == INSTALL_HINT and "apt-get install -y wrk" in INSTALL_HINT
    assert "\n" not in INSTALL_HINT


def test_multipart_body_parses_back_into_files_and_fields() -> None:
    body, content_type = multipart_body(
        [
            ("content", "c.jpg", b"\xff\xd8jpeg", "image/jpeg"),
            ("style", "s.png", b"\x89PNG", "image/png"),
            ("params", "", json.dumps({"iterations": 2}).encode(), ""),
        ]
    )
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    _, form, files = parse_form_data(environ)
    assert files["content"].read() == b"\xff\xd8jpeg" and files["content"].filename == "c.jpg"
    assert files["style"].mimetype == "image/png"
    assert json.loads(form["params"]) == {"iterations": 2}


def test_against_adds_the_prefix_and_labels_the_configuration() -> None:
    config = parse_config(["auth_cache_s=0", "STYLIZE_API_THREADS=4"])
    assert config.env == {"STYLIZE_AUTH_CACHE_S": "0", "STYLIZE_API_THREADS": "4"}
    assert config.label == "STYLIZE_AUTH_CACHE_S=0 STYLIZE_API_THREADS=4"
    assert parse_config([], "main").label == "main" and parse_config([], "main").revision == "main"
    server = parse_config(["GUNICORN_CMD_ARGS=--worker-class gthread --threads 16"])
    assert server.env == {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 16"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_config(["nonsense"])


def test_job_timing_splits_the_overhead_from_the_engine() -> None:
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    job = SimpleNamespace(
        id=uuid.uuid4(),
        status="succeeded",
        started_at=(sent + timedelta(milliseconds=12)).replace(tzinfo=None),  # SQLite: naive
        finished_at=sent + timedelta(milliseconds=512),
        metrics={"seconds": 0.49},
    )
    timing = job_timing(sent, sent + timedelta(milliseconds=10), job)  # type: ignore[arg-type]
    assert timing.submit_http == pytest.approx(10)
    assert timing.submit_to_running == pytest.approx(12)
    assert timing.worker_extra == pytest.approx(10)
    assert timing.overhead == pytest.approx(22)


def test_a_job_that_never_ran_has_no_timing() -> None:
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    job = SimpleNamespace(
        id=uuid.uuid4(), status="failed", started_at=None, finished_at=sent, metrics=None
    )
    with pytest.raises(RuntimeError, match="without running"):
        job_timing(sent, sent, job)  # type: ignore[arg-type]


def test_queue_report_gives_the_overhead_p50_as_the_one_number() -> None:
    timings = [JobTiming(5.0, 10.0 + n, 4.0) for n in range(5)]
    report = queue_report(timings)
    assert report["jobs"] == 5
    assert report["submit_to_running_ms"] == {"p50": 12.0, "p99": 13.96, "max": 14.0}
    assert report["overhead_p50_ms"] == 16.0


def test_jobs_per_minute() -> None:
    assert jobs_per_minute(12, 30.0) == 24.0
    with pytest.raises(ValueError):
        jobs_per_minute(12, 0)


def test_gpu_hosts_scale_linearly_until_the_hub_caps_them() -> None:
    assert projection(20.0, [1, 2, 8]) == [
        {"hosts": 1, "jobs_per_min": 20.0, "limited_by": "gpus"},
        {"hosts": 2, "jobs_per_min": 40.0, "limited_by": "gpus"},
        {"hosts": 8, "jobs_per_min": 160.0, "limited_by": "gpus"},
    ]
    capped = projection(20.0, [4, 16], hub_jobs_per_min=100.0)
    assert capped == [
        {"hosts": 4, "jobs_per_min": 80.0, "limited_by": "gpus"},
        {"hosts": 16, "jobs_per_min": 100.0, "limited_by": "hub"},
    ]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_memory_bench_tiled_budgets_are_ones_the_job_runs_in_tiles_under(backend: str) -> None:
    from bench.memory import STYLE_HW, configs, content_hw
    from shared.memory_model import plan

    tiled = configs(("float32",), 4096, backend, ("tiled",))
    assert [config.params().max_size for config in tiled] == [1024, 2048, 4096]
    for config in tiled:
        params, budget = config.params(), config.budget_mb
        assert budget is not None
        planned = plan(params, content_hw(params), [STYLE_HW], "float32", budget, backend)
        one_pass = plan(params, content_hw(params), [STYLE_HW], "float32", None, backend)
        assert planned.fits and planned.levels[-1].tile is not None, config.label()
        assert planned.peak_mb <= budget < one_pass.peak_mb, config.label()


def test_quality_json_keeps_the_jobs_content_ratio_beside_the_yardsticks() -> None:
    from bench.quality import PairQuality
    from bench.style_metrics import StyleMetrics

    metrics = StyleMetrics(
        (0.1,) * 5, 0.1, (0.2,) * 5, 0.2, 0.058, 0.07, 0.9, 0.02, 0.4, 1.6, 0.7, 1.1, 0.3
    )
    row = PairQuality("c.jpg", "s.jpg", 128, "tested", 12.34, 200, 0.013, 0.039, metrics)
    line = json.loads(json.dumps(row.as_dict()))
    assert line["content_ratio"] == 0.039 and line["yardstick_content_ratio"] == 0.058
    assert line["content_off_grid"] == 0.07
    assert line["style_ratio"] == 0.013 and line["gram_geo"] == 0.1 and line["seconds"] == 12.3


def test_edge_ticks_finds_a_row_of_marks_along_one_edge() -> None:
    """A textured picture scores about 1 at every edge; dark ticks 3 px deep and 10 px apart
    along its top score there alone."""
    from bench.style_metrics import _edge_ticks

    rng = np.random.default_rng(0)
    grain = np.kron(rng.normal(50, 10, (128, 192)), np.ones((2, 2)))  # 256 x 384, 2 px grain
    plain = _edge_ticks(grain)
    assert np.all((plain > 0.5) & (plain < 1.6)), plain
    ticked = grain.copy()
    ticked[:3, ::10] -= 40
    ticked[:3, 1::10] -= 40
    marked = _edge_ticks(ticked)
    assert marked[0] > 2.5 * plain[0], (marked, plain)
    np.testing.assert_allclose(marked[1:], plain[1:], rtol=0.05)


def test_edge_rows_find_a_light_outermost_row_along_one_edge() -> None:
    """A textured picture's outermost rows are about as light as the rows inside them; one
    20 L* lighter along the bottom scores +20 there and nowhere else."""
    from bench.style_metrics import _edge_rows

    rng = np.random.default_rng(0)
    grain = np.kron(rng.normal(50, 10, (128, 192)), np.ones((2, 2)))
    plain = _edge_rows(grain)
    assert np.all(np.abs(plain) < 3), plain
    lined = grain.copy()
    lined[-1] += 20
    found = _edge_rows(lined)
    assert found[1] - plain[1] == pytest.approx(20)
    np.testing.assert_allclose(found[[0, 2, 3]], plain[[0, 2, 3]], atol=20 / 192 + 1e-9)


def test_likeness_sees_the_layout_not_the_texture() -> None:
    """The photo itself scores 1; a strong 2 px grain (sigma 15 L*) keeps it high (0.74); the
    same grain without the photo's layout, or the photo mirrored, scores near 0 (0.05, 0.04)."""
    from bench.style_metrics import likeness
    from tests.support.engine import sample

    photo = sample("content-astronaut", (256, 256)).astype(np.float32).mean(axis=-1) / 2.55
    rng = np.random.default_rng(0)
    noise = np.kron(rng.normal(0, 15, (128, 128)), np.ones((2, 2)))  # 2 px grain
    assert likeness(photo, photo) > 0.999
    assert likeness(np.clip(photo + noise, 0, 100), photo) > 0.6
    assert likeness(np.clip(photo.mean() + noise, 0, 100), photo) < 0.2
    assert likeness(photo[:, ::-1], photo) < 0.2
