"""Fixtures shared by the whole suite: migrated databases (SQLite and PostgreSQL), storage.

- ``empty_database_url``: a fresh, unmigrated database, once on SQLite (in ``tmp_path``) and
  once on PostgreSQL at 127.0.0.1:5432 (a new database per test, dropped afterwards; marked
  ``integration``; the test fails, never skips, when PostgreSQL does not answer).
- ``database_url``: the same, migrated to head with ``migrations.upgrade``.
- ``session``: a SQLAlchemy session on ``database_url`` (``expire_on_commit=False``).
- ``sqlite_url``: a migrated SQLite database only, for tests about other things.
- ``storage``: a ``LocalStorage`` rooted in ``tmp_path / "storage"``.
- ``stack`` (per module, on SQLite and PostgreSQL) and ``api_url``: the real service with a
  worker process, for the end-to-end and browser tests (tests/support/stack.py); one worker
  per database serves the whole run, each module with its own API key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from migrations import upgrade
from shared.db.session import make_engine, session_factory
from shared.storage.local import LocalStorage
from tests.support import postgres_database
from tests.support.stack import Stack, finish_jobs_of, running_stack, served, with_new_key


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite and on the real PostgreSQL of this machine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stylize.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database migrated to head, on SQLite and on PostgreSQL."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """A session on the migrated database."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database only (for tests about other things than the database)."""
    url = f"sqlite:///{tmp_path / 'stylize.db'}"
    upgrade(url)
    return url


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    """Local storage rooted in a temporary directory."""
    return LocalStorage(tmp_path / "storage")


def _running_stack_on(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A migrated database (``sqlite`` or ``postgresql``), storage, Redis and a worker."""
    tmp = tmp_path_factory.mktemp(f"stack-{database}")
    with ExitStack() as cleanup:
        if database == "sqlite":
            database_url = f"sqlite:///{tmp / 'stylize.db'}"
        else:
            database_url = cleanup.enter_context(postgres_database("stylize_it"))
            cleanup.callback(session_factory.cache_clear)  # before the drop: callbacks run LIFO
        upgrade(database_url)
        yield from running_stack(database_url, tmp)


# One worker per database for the whole run (starting one costs 15-20 s on 2 cores); each
# module gets its own API key on it (``stack``), so no module sees another's jobs.
@pytest.fixture(scope="session")
def _stack_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _running_stack_on("sqlite", tmp_path_factory)


@pytest.fixture(scope="session")
def _stack_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _running_stack_on("postgresql", tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The running service on SQLite and on PostgreSQL, with an API key of this module's own.

    Afterwards the module's unfinished jobs are cancelled and waited for, so that the next
    module finds the worker idle.
    """
    shared: Stack = request.getfixturevalue(f"_stack_{request.param}")
    module_stack = with_new_key(shared, request.module.__name__)
    yield module_stack
    finish_jobs_of(module_stack)


@pytest.fixture
def api_url(stack: Stack) -> Iterator[str]:
    """The stack's API over real HTTP."""
    with served(stack.app) as url:
        yield url
