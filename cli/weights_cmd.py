"""``stylize weights``: fetch Keras's ImageNet VGG16 file; show which source ``auto`` picks."""

from __future__ import annotations

import json

import click


@click.group()
def weights() -> None:
    """VGG16 weights: jobs never download; fetch them here, or use the bundled hed weights."""


@weights.command()
def fetch() -> None:
    """Download the ImageNet VGG16 notop file into Keras's cache (needs a network)."""
    from worker.engine.weights import fetch_imagenet

    try:
        path = fetch_imagenet()
    except Exception as exc:  # any network or disk failure: one line, exit 1
        raise click.ClickException(f"could not download the ImageNet weights: {exc}") from None
    click.echo(str(path))


@weights.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
def info(as_json: bool) -> None:
    """Each source's file (or why it is missing) and what the configured setting resolves to."""
    from shared.settings import get_settings
    from worker.engine.errors import WeightsError
    from worker.engine.weights import resolve_source

    configured = get_settings().vgg_weights
    shown: dict[str, str] = {}
    for name in dict.fromkeys(("imagenet", "hed", "auto", configured)):
        try:
            shown[name] = str(resolve_source(name))
        except WeightsError as exc:
            shown[name] = f"missing: {exc}"
    if as_json:
        click.echo(json.dumps({"configured": configured, "sources": shown}))
        return
    click.echo(f"STYLIZE_VGG_WEIGHTS={configured} -> {shown[configured]}")
    for name, value in shown.items():
        click.echo(f"  {name}: {value}")
