"""``stylize keys``: create, list and revoke API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from cli.db_cmd import database_errors
from shared.api_keys import ApiKeyError, create_key, list_keys, revoke_key
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
def create(name: str) -> None:
    """Create a key; its secret is printed once, alone on the last line.

    The line before it is the key's webhook signing secret, also shown only now.
    """
    with _session() as session:
        key, secret = create_key(session, name)
    click.echo(f"created key {key.id} ({key.name}); both secrets are shown only now.")
    click.echo(f"webhook signing secret (verifies X-Stylize-Signature): {key.webhook_secret}")
    click.echo("API key (Authorization: Bearer ...), alone on the next line:")
    click.echo(secret)


@keys.command("list")
def list_() -> None:
    """List keys: id, prefix, name, created, revoked."""
    with _session() as session:
        for key in list_keys(session):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            click.echo(f"{key.id}  {key.prefix}…  {key.name}  {key.created_at:%Y-%m-%d}  {revoked}")


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key with KEY_ID (its id or its sty_ prefix)."""
    with _session() as session:
        revoked = revoke_key(session, key_id)
    if not revoked:
        raise click.ClickException(f"no active key matches {key_id!r}; see: stylize keys list")
    click.echo(f"revoked {key_id}")
