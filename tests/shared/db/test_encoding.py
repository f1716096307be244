"""A PostgreSQL database in another encoding than UTF8 is refused in one line, before any write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from migrations import upgrade
from shared.db.encoding import DatabaseEncodingError, check_encoding
from tests.support import postgres_database

STYLIZE = Path(sys.executable).with_name("stylize")
pytestmark = pytest.mark.integration


def stylize_db(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STYLIZE_DATABASE_URL": url, "STYLIZE_LOG_FORMAT": "text"}
    return subprocess.run(
        [str(STYLIZE), "db", *args], env=env, capture_output=True, text=True, timeout=120
    )


def tables(url: str) -> list[str]:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return [row[0] for row in rows]


def test_stylize_db_upgrade_refuses_sql_ascii_in_one_line() -> None:
    with postgres_database(encoding="SQL_ASCII") as url:
        for command in (("upgrade",), ("current",)):
            result = stylize_db(url, *command)
            assert result.returncode == 1, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert "encoded SQL_ASCII" in lines[0] and "ENCODING 'UTF8'" in lines[0], lines[0]
            assert "Traceback" not in result.stderr
        assert tables(url) == []


def test_upgrade_refuses_before_writing_and_a_utf8_database_passes() -> None:
    with postgres_database(encoding="SQL_ASCII") as url:
        with pytest.raises(DatabaseEncodingError, match="needs UTF8"):
            upgrade(url)
        assert tables(url) == []
    with postgres_database(encoding="UTF8") as url:
        check_encoding(url)
        upgrade(url)
        assert "jobs" in tables(url)


def test_an_unreachable_database_is_left_to_the_connection_that_reports_it() -> None:
    check_encoding("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    result = stylize_db("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "upgrade")
    assert result.returncode == 1
    assert "is it up?" in result.stderr and "Traceback" not in result.stderr
