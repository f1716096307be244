"""The database's character set: Stylize stores text as UTF-8 and refuses a database that can't.

Read on a raw driver connection: on a ``SQL_ASCII`` PostgreSQL database the driver hands back
bytes, and SQLAlchemy's first connect fails with a ``TypeError`` deep inside it.
"""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SUPPORTED = "UTF8"


class DatabaseEncodingError(Exception):
    """The database stores text in another encoding than UTF8; the message says what to do."""


def check_encoding(database_url: str) -> None:
    """Raise DatabaseEncodingError when a PostgreSQL database's encoding is not UTF8.

    SQLite is always UTF-8. A database that cannot be reached is left for the caller's own
    connection to report.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    engine = create_engine(url, poolclass=NullPool)
    dialect = engine.dialect
    cargs, cparams = dialect.create_connect_args(url)
    try:
        connection = dialect.connect(*cargs, **cparams)
    except dialect.loaded_dbapi.Error:
        return
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW server_encoding")
        encoding = cursor.fetchone()[0]
    finally:
        connection.close()
        engine.dispose()
    if isinstance(encoding, bytes):
        encoding = encoding.decode("ascii", "replace")
    if encoding.upper() != SUPPORTED:
        raise DatabaseEncodingError(
            f"database {url.database!r} is encoded {encoding}; Stylize needs UTF8: create it "
            f"with CREATE DATABASE \"{url.database}\" ENCODING 'UTF8' TEMPLATE template0 "
            "(or a cluster made by initdb --encoding=UTF8), then run stylize db upgrade"
        )
