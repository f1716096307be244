"""``stylize keys``: create, list and revoke API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import click
from sqlalchemy.orm import Session

from cli.db_cmd import database_errors
from shared.api_keys import (
    ApiKeyError,
    create_key,
    find_live_key,
    list_keys,
    revoke_key,
    rotate_webhook_secret,
)
from shared.db.session import session_factory
from shared.settings import get_settings


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured database; bad input and DB errors become one line."""
    factory = session_factory(get_settings().database_url)
    with database_errors(), factory() as session:
        try:
            yield session
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from None


@click.group()
def keys() -> None:
    """API keys (Authorization: Bearer <secret>)."""


@keys.command()
@click.argument("name")
@click.option("--admin", is_flag=True, help="May list and read every key's jobs (?owner=all).")
@click.option(
    "--max-active-jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Queued or running jobs at once (default STYLIZE_MAX_ACTIVE_JOBS_PER_KEY).",
)
@click.option(
    "--rate-limit-per-minute",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per minute (default STYLIZE_RATE_LIMIT_PER_MINUTE).",
)
def create(
    name: str, admin: bool, max_active_jobs: int | None, rate_limit_per_minute: int | None
) -> None:
    """Create a key; its secret is printed once, alone on the last line.

    The line before it is the key's webhook signing secret, also shown only now.
    """
    with _session() as session:
        key, secret = create_key(
            session,
            name,
            admin=admin,
            max_active_jobs=max_active_jobs,
            rate_limit_per_minute=rate_limit_per_minute,
        )
    kind = "admin key" if admin else "key"
    click.echo(f"created {kind} {key.id} ({key.name}); both secrets are shown only now.")
    click.echo(f"webhook signing secret (verifies webhook-signature): {key.webhook_secret}")
    click.echo("API key (Authorization: Bearer ...), alone on the next line:")
    click.echo(secret)


@keys.command("list")
def list_() -> None:
    """List keys: id, prefix, name, created, revoked, admin, limits."""
    with _session() as session:
        for key in list_keys(session):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            extras = ["admin"] if key.is_admin else []
            if key.max_active_jobs is not None:
                extras.append(f"max {key.max_active_jobs} active")
            if key.rate_limit_per_minute is not None:
                extras.append(f"{key.rate_limit_per_minute}/min")
            click.echo(
                f"{key.id}  {key.prefix}…  {key.name}  {key.created_at:%Y-%m-%d}  {revoked}"
                + "".join(f"  {extra}" for extra in extras)
            )


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key with KEY_ID (its id or its sty_ prefix)."""
    with _session() as session:
        revoked = revoke_key(session, key_id)
    if not revoked:
        raise click.ClickException(f"no active key matches {key_id!r}; see: stylize keys list")
    click.echo(f"revoked {key_id}")


@keys.command("rotate-webhook-secret")
@click.argument("key_id")
@click.option(
    "--overlap-hours",
    type=click.FloatRange(0, 168),
    default=24.0,
    show_default=True,
    help="How long the old secret keeps signing deliveries beside the new one.",
)
def rotate_webhook_secret_(key_id: str, overlap_hours: float) -> None:
    """A new webhook signing secret for KEY_ID (its id or its sty_ prefix), shown once."""
    with _session() as session:
        key = find_live_key(session, key_id)
        if key is None:
            raise click.ClickException(f"no active key matches {key_id!r}; see: stylize keys list")
        secret = rotate_webhook_secret(session, key, timedelta(hours=overlap_hours))
    click.echo(f"the old secret signs too for {overlap_hours:g} h; the new one, shown only now:")
    click.echo(secret)
