"""``stylize bench``: benchmarks. ``engine`` compares the seed's eager loop with the engine."""

from __future__ import annotations

import json

import click


@click.group()
def bench() -> None:
    """Benchmarks (not timed tests): print numbers to record in docs/."""


@bench.command("engine")
@click.option("--size", default=256, show_default=True, help="Longest side of the pair, px.")
@click.option("--iterations", default=30, show_default=True, help="Baseline (and Adam) steps.")
@click.option("--learning-rate", default=None, type=float,
              help="Adam step in pixel units, both sides [default: the job default].")  # fmt: skip
@click.option("--weights", default=None, help="VGG16 weights (default: STYLIZE_VGG_WEIGHTS).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def engine(size: int, iterations: int, learning_rate: float | None, weights: str | None,
           as_json: bool) -> None:  # fmt: skip
    """Seed-faithful eager Adam vs the compiled engine: ms/iteration and time to the same loss."""
    from worker.engine.bench import run
    from worker.engine.errors import WeightsError

    try:
        numbers = run(size, iterations, learning_rate, weights)
    except (WeightsError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(numbers))
        return
    for name, value in numbers.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        click.echo(f"{name:34} {shown}")
