"""``stylize config``: the effective settings (secrets masked), or the table of every setting."""

from __future__ import annotations

import json

import click

from shared.settings import ENV_PREFIX, Settings, get_settings


def settings_markdown() -> str:
    """Every setting as a Markdown table: variable, default and its docstring."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else f"`{field.default}`"
        description = " ".join((field.description or "").split())
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {default} | {description} |")
    return "\n".join(rows) + "\n"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
@click.option(
    "--markdown", is_flag=True, help="The table of every setting with its default (README's)."
)
def config(as_json: bool, markdown: bool) -> None:
    """Print the effective settings (STYLIZE_* variables and defaults), secrets masked."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    shown = get_settings().masked()
    if as_json:
        click.echo(json.dumps(shown))
        return
    for name, value in shown.items():
        click.echo(f"STYLIZE_{name.upper()}={'' if value is None else value}")
