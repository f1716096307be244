"""``stylize config``: the effective settings, secrets masked."""

from __future__ import annotations

import json

import click

from shared.settings import get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
def config(as_json: bool) -> None:
    """Print the effective settings (STYLIZE_* variables and defaults), secrets masked."""
    shown = get_settings().masked()
    if as_json:
        click.echo(json.dumps(shown))
        return
    for name, value in shown.items():
        click.echo(f"STYLIZE_{name.upper()}={'' if value is None else value}")
