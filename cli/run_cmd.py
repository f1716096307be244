"""``stylize run``: one style transfer on this machine, no queue, with a progress bar."""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from shared.images import ImageError, encode_image, format_for_path, read_image
from shared.params import JobParams

LIST_FIELDS = {
    "style_blend": float,
    "content_layers": str,
    "style_layers": str,
    "style_layer_weights": float,
    "webhook_events": str,
}
# The output's extension decides the format; a local run has no webhook.
LOCAL_SKIPPED = frozenset({"output_format", "webhook_url", "webhook_events"})


def param_options(
    skipped: frozenset[str] = LOCAL_SKIPPED,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One option per JobParams field but ``skipped``, named with dashes; unset ones are None."""
    return functools.partial(add_param_options, skipped=skipped)


def add_param_options(command: Callable[..., Any], skipped: frozenset[str]) -> Callable[..., Any]:
    """Decorate ``command`` with the options of :func:`param_options`."""
    schema = JobParams.model_json_schema()["properties"]
    for name, field in reversed(JobParams.model_fields.items()):
        if name in skipped:
            continue
        flag = "--" + name.replace("_", "-")
        default = field.default_factory() if field.default_factory else field.default
        if "default" not in schema[name]:  # it depends on max_size (DEFAULTS_BY_SIZE)
            default = "by max_size"
        if isinstance(default, list):
            default = ",".join(map(str, default))
        help_text = f"{field.description} [default: {default}]"
        if field.annotation is bool:
            option = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
        elif name in LIST_FIELDS:
            option = click.option(flag, name, default=None, metavar="A,B,...", help=help_text)
        elif typing.get_origin(field.annotation) is typing.Literal:
            choice = click.Choice(typing.get_args(field.annotation))
            option = click.option(flag, name, type=choice, default=None, help=help_text)
        elif field.annotation in (int, float):
            option = click.option(flag, name, type=field.annotation, default=None, help=help_text)
        else:  # strings, URLs: the schema validates them
            option = click.option(flag, name, type=str, default=None, help=help_text)
        command = option(command)
    return command


def given_params(options: dict[str, Any]) -> dict[str, Any]:
    """The options that were given, list options split at commas into typed lists."""
    values = {k: v for k, v in options.items() if v is not None}
    for name, kind in LIST_FIELDS.items():
        if name in values:
            try:
                values[name] = [kind(item.strip()) for item in values[name].split(",")]
            except ValueError:
                hint = "--" + name.replace("_", "-")
                raise click.BadParameter("give comma-separated numbers", param_hint=hint) from None
    return values


def job_params(options: dict[str, Any], output_format: str) -> JobParams:
    """JobParams from the given options; a ClickException naming each bad field."""
    values = given_params(options)
    try:
        return JobParams(output_format=output_format, **values)
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(map(str, e['loc'])).replace('_', '-') or 'params'}: {e['msg']}"
            for e in exc.errors()
        )
        raise click.UsageError(problems) from None


@click.command()
@click.argument("content", type=click.Path(dir_okay=False))
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Result file: .png, .jpg or .jpeg.",
)
@click.option("--weights", default=None, help="auto | imagenet | hed | PATH (default: settings).")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as one JSON line.")
@click.option(
    "--preview",
    "preview_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write each preview (every --preview-every iterations) to this .png or .jpg "
    "as the run goes; the first comes from the coarsest level.",
)
@param_options()
def run(
    content: str,
    styles: tuple[str, ...],
    output: str,
    weights: str | None,
    as_json: bool,
    preview_path: str | None,
    **options: Any,
) -> None:
    """Stylise CONTENT with one or more STYLE images and write the result to OUT."""
    output_format = format_for_path(output)
    if output_format is None:
        raise click.BadParameter("end the file name in .png, .jpg or .jpeg", param_hint="-o")
    params = job_params(options, output_format.name)
    try:
        params.check_style_count(len(styles))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        content_image = read_image(content)
        style_images = [read_image(path) for path in styles]
    except ImageError as exc:
        raise click.ClickException(str(exc)) from None

    preview_format = None
    if preview_path is not None:
        preview_format = format_for_path(preview_path)
        if preview_format is None:
            raise click.BadParameter(
                "end the file name in .png, .jpg or .jpeg", param_hint="--preview"
            )

    from tqdm import tqdm

    from shared.settings import get_settings
    from worker.backend_import import backend_noise_dropped
    from worker.engine import EngineInputError, Progress, WeightsError
    from worker.memory_budget import worker_budget_mb

    try:
        with backend_noise_dropped():  # TensorFlow's start-up lines ask nothing of the user
            from worker.engine import StyleEngine

            engine = StyleEngine.load(weights)
        engine.memory_budget_mb = worker_budget_mb(get_settings())
        with tqdm(total=params.iterations, unit="it", disable=None, leave=False) as bar:

            def on_progress(progress: Progress) -> None:
                bar.set_postfix(loss=f"{progress.losses['total']:.4g}", refresh=False)
                bar.update(1)

            def on_preview(iteration: int, image: Any) -> None:
                assert preview_path is not None and preview_format is not None
                Path(preview_path).write_bytes(encode_image(image, preview_format.name))
                bar.set_description(f"preview {image.shape[1]}x{image.shape[0]}", refresh=False)

            result = engine.run(
                content_image,
                style_images,
                params,
                on_progress=on_progress,
                on_preview=on_preview if preview_path else None,
            )
    except (EngineInputError, WeightsError) as exc:
        raise click.ClickException(str(exc)) from None
    Path(output).write_bytes(encode_image(result.image, output_format.name))
    if as_json:
        metrics = {
            "output": output,
            "width": result.image.shape[1],
            "height": result.image.shape[0],
            "iterations": result.iterations,
            "seconds": round(result.seconds, 3),
            "ms_per_iter": round(result.ms_per_iter, 2),
            "losses": result.losses,
            "initial_losses": result.initial_losses,
            "weights_source": result.weights_source,
            "first_preview_s": (
                None if result.first_preview_s is None else round(result.first_preview_s, 3)
            ),
            "quality": result.quality.as_dict(),
        }
        click.echo(json.dumps(metrics))
    else:
        start, end = result.initial_losses["total"], result.losses["total"]
        first = (
            ""
            if result.first_preview_s is None
            else f", first preview after {result.first_preview_s:.1f} s"
        )
        click.echo(
            f"{output}: {result.iterations} iterations in {result.seconds:.1f} s, "
            f"loss {start:.4g} -> {end:.4g}{first}"
        )
