"""The chaos stack fixture (the stack itself: tests/support/chaos.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from api import create_app
from migrations import upgrade
from shared.api_keys import create_key
from shared.db.session import session_factory
from shared.settings import Settings
from tests.support import postgres_database
from tests.support.chaos import HEARTBEAT_TIMEOUT_S, Chaos, OwnRedis, Workers


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    tmp = tmp_path_factory.mktemp("chaos")
    with ExitStack() as cleanup:
        database_url = cleanup.enter_context(postgres_database("stylize_chaos"))
        cleanup.callback(session_factory.cache_clear)  # before the drop: callbacks run LIFO
        upgrade(database_url)
        own_redis = OwnRedis(tmp)
        own_redis.start()
        cleanup.callback(lambda: own_redis.process and own_redis.process.kill())
        overrides = {
            "STYLIZE_DATABASE_URL": database_url,
            "STYLIZE_STORAGE_URL": f"file://{tmp / 'storage'}",
            "STYLIZE_BROKER_URL": own_redis.url,
            "STYLIZE_GPU_QUEUE": f"gpu-chaos-{uuid.uuid4().hex[:8]}",
            "STYLIZE_VGG_WEIGHTS": "hed",
            "STYLIZE_PROGRESS_DB_INTERVAL_S": "0.2",
            "STYLIZE_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
            "STYLIZE_REAPER_INTERVAL_S": "0.5",
            "STYLIZE_RESEND_AFTER_S": "3",
            "STYLIZE_WORKER_SHUTDOWN_S": "0",  # SIGTERM hands the job back at once
            "STYLIZE_JOB_MAX_ATTEMPTS": "2",
            "STYLIZE_DB_RETRY_S": "120",
            "STYLIZE_RATE_LIMIT_PER_MINUTE": "100000",  # the tests poll often
        }
        settings = Settings(
            **{key.removeprefix("STYLIZE_").lower(): value for key, value in overrides.items()}
        )
        env = {**os.environ, **overrides, "TF_CPP_MIN_LOG_LEVEL": "2"}
        for n in (1, 2):  # two reapers at once, as several copies may run in production
            with (tmp / f"reaper-{n}.log").open("wb") as log:
                reaper = subprocess.Popen(
                    [sys.executable, "-m", "cli", "reaper"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            cleanup.callback(reaper.wait, 30)
            cleanup.callback(reaper.terminate)
        workers = Workers(env, tmp)
        cleanup.callback(workers.kill_all)
        with session_factory(database_url)() as session:
            _, secret = create_key(session, "chaos")
        app = create_app(settings)
        yield Chaos(
            settings,
            app.test_client(),
            {"Authorization": f"Bearer {secret}"},
            workers,
            own_redis,
            tmp / "storage",
        )
