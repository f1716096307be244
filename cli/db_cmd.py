"""``stylize db``: apply and inspect migrations."""

from __future__ import annotations

import click

from shared.db import migrate
from shared.settings import get_settings


@click.group()
def db() -> None:
    """Database migrations (Alembic) on STYLIZE_DATABASE_URL."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    settings = get_settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {migrate.current(settings.database_url)}")


@db.command()
def current() -> None:
    """Print the revision the database is at."""
    click.echo(migrate.current(get_settings().database_url) or "none (run: stylize db upgrade)")
