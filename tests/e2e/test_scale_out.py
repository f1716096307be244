"""Many machines on one: two workers with their own names on one PostgreSQL, Redis and S3.

The API runs as ``stylize api`` (gunicorn, two processes) and both workers serve metrics: ten
small jobs all succeed, both workers run some, none runs twice, and the counters agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import redis
import requests
from moto.server import ThreadedMotoServer
from prometheus_client.parser import text_string_to_metric_families

from cli.embedded_redis import free_port
from migrations import upgrade
from shared.api_keys import create_key
from shared.db.session import session_factory
from tests.support import HTTP_TIMEOUT_S, noise_png, postgres_database, wait_until
from tests.support.stack import start_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/12"
JOBS = 10


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="stylize")
    yield endpoint
    server.stop()


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(url, timeout=HTTP_TIMEOUT_S).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_two_workers_share_the_jobs_and_the_metrics_add_up(
    s3_endpoint: str, tmp_path: Path
) -> None:
    queue = f"gpu-scale-{uuid.uuid4().hex[:8]}"
    api_port, metrics_ports = free_port(), {"alpha": free_port(), "beta": free_port()}
    with postgres_database("stylize_scale") as database_url:
        upgrade(database_url)
        env = {
            **os.environ,
            "STYLIZE_DATABASE_URL": database_url,
            "STYLIZE_BROKER_URL": REDIS_URL,
            "STYLIZE_GPU_QUEUE": queue,
            "STYLIZE_STORAGE_URL": "s3://stylize/scale",
            "STYLIZE_S3_ENDPOINT_URL": s3_endpoint,
            "STYLIZE_S3_ACCESS_KEY": "test",
            "STYLIZE_S3_SECRET_KEY": "test",
            "STYLIZE_VGG_WEIGHTS": "hed",
            "STYLIZE_MAX_ACTIVE_JOBS_PER_KEY": str(JOBS),
        }
        api_log = (tmp_path / "api.log").open("wb")
        api = subprocess.Popen(
            [sys.executable, "-m", "cli", "api", "--port", str(api_port), "--workers", "2"],
            env=env,
            stdout=api_log,
            stderr=subprocess.STDOUT,
        )
        workers = []
        try:
            for name, port in metrics_ports.items():
                args = ["--hostname", f"{name}@%h", "--metrics-port", str(port)]
                workers.append(start_worker(env, tmp_path / f"{name}.log", args))
            run_jobs_and_check(database_url, api_port, metrics_ports, tmp_path)
        finally:
            for process in [*workers, api]:
                stop(process)
            api_log.close()
            redis.Redis.from_url(REDIS_URL).delete(queue)
            session_factory.cache_clear()


def run_jobs_and_check(
    database_url: str, api_port: int, metrics_ports: dict[str, int], logs: Path
) -> None:
    base = f"http://127.0.0.1:{api_port}"

    def log_tails() -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs.glob("*.log"))

    wait_until(
        lambda: requests.get(f"{base}/readyz", timeout=HTTP_TIMEOUT_S).ok,
        180,
        "the API",
        diagnostics=log_tails,
    )
    with session_factory(database_url)() as session:
        _, secret = create_key(session, "scale")
    headers = {"Authorization": f"Bearer {secret}"}
    job_urls = []
    for n in range(JOBS):
        response = requests.post(
            f"{base}/v1/jobs",
            headers=headers,
            timeout=HTTP_TIMEOUT_S,
            files=[
                ("content", ("c.png", noise_png(32, 24, n))),
                ("style", ("s.png", noise_png(24, 24, 100 + n))),
            ],
            data={"iterations": "2", "max_size": "32", "preview_every": "0"},
        )
        assert response.status_code == 202, response.text
        job_urls.append(f"{base}{response.headers['Location']}")

    def all_ended() -> list[dict] | None:
        bodies = [
            requests.get(url, headers=headers, timeout=HTTP_TIMEOUT_S).json() for url in job_urls
        ]
        return bodies if all(b["status"] not in ("queued", "running") for b in bodies) else None

    bodies = wait_until(all_ended, 600, "ten jobs' ends", interval=1, diagnostics=log_tails)
    assert [b["status"] for b in bodies] == ["succeeded"] * JOBS, log_tails()
    assert [b["attempts"] for b in bodies] == [1] * JOBS, "no job ran twice"
    ran = Counter(b["worker"].split("@")[0] for b in bodies)
    assert set(ran) == {"alpha", "beta"}, f"both workers run some: {ran}"

    for name, port in metrics_ports.items():
        scraped = samples(f"http://127.0.0.1:{port}/metrics")
        finished = value(
            scraped, "stylize_jobs_finished_total", status="succeeded", failure_code=""
        )
        assert finished == ran[name], (name, finished, ran)
        assert value(scraped, "stylize_job_duration_seconds_count", status="succeeded") == ran[name]
        assert value(scraped, "stylize_job_queue_wait_seconds_count") == ran[name]
        assert value(scraped, "stylize_job_iterations_per_second_count") == ran[name]
        assert value(scraped, "stylize_model_load_seconds") > 0
    api_scraped = samples(f"{base}/metrics")
    assert value(api_scraped, "stylize_jobs_submitted_total") == JOBS
    assert (
        value(
            api_scraped,
            "stylize_http_requests_total",
            route="/v1/jobs",
            method="POST",
            status="202",
        )
        == JOBS
    )
    assert value(api_scraped, "stylize_jobs", status="succeeded") == JOBS, "counted once"
    assert value(api_scraped, "stylize_jobs", status="queued") == 0
