"""Engine and session factory built from a database URL."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_POOL_SIZE = 5  # SQLAlchemy's own default


def make_engine(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """An engine for ``database_url``; SQLite gets its directory, WAL mode and a busy timeout.

    ``pool_size`` connections are kept open once used; up to 10 more are opened when more
    threads need one at once, and closed again when they are handed back. A process with N
    request threads should keep N (``STYLIZE_API_THREADS``): else every request beyond the
    pool pays for a new connection.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


@functools.cache
def session_factory(
    database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE
) -> sessionmaker[Session]:
    """The process-wide session factory for ``database_url`` (and ``pool_size``)."""
    return sessionmaker(make_engine(database_url, pool_size=pool_size), expire_on_commit=False)
