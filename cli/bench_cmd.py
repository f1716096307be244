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
    from bench.engine import run
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


@bench.command("queue")
@click.option("--jobs", default=10, show_default=True, help="Tiny jobs sent one at a time.")
@click.option("--size", default=256, show_default=True, help="Image size for the progress cost.")
@click.option("--iterations", default=10, show_default=True, help="Iterations per engine run.")
@click.option("--rounds", default=3, show_default=True, help="Alternating runs with/without.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def queue(jobs: int, size: int, iterations: int, rounds: int, as_json: bool) -> None:
    """Queue overhead (submit -> running, idle worker) and the cost of progress reporting."""
    from bench.queue import run_queue_bench

    numbers = run_queue_bench(jobs, size, iterations, rounds)
    if as_json:
        click.echo(json.dumps(numbers))
        return
    for section, values in numbers.items():
        for name, value in values.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            click.echo(f"{section + '.' + name:34} {shown}")
