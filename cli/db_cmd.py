"""``stylize db``: apply and inspect migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

import migrations
from shared.db.encoding import DatabaseEncodingError
from shared.settings import get_settings, mask_url_password


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn an unreachable, unmigrated or non-UTF8 database into one line and exit 1."""
    try:
        yield
    except DatabaseEncodingError as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        url = mask_url_password(get_settings().database_url)
        raise click.ClickException(
            f"database {url}: {reason} (is it up? has `stylize db upgrade` run?)"
        ) from None


@click.group()
def db() -> None:
    """Database migrations (Alembic) on STYLIZE_DATABASE_URL."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = get_settings().database_url
    with database_errors():
        migrations.upgrade(url, revision)
        click.echo(f"database at revision {migrations.current(url)}")


@db.command()
def current() -> None:
    """Print the revision the database is at."""
    url = get_settings().database_url
    with database_errors():
        click.echo(migrations.current(url) or "none (run: stylize db upgrade)")
