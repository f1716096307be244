"""``stylize bench``: benchmarks. ``engine`` compares the seed's eager loop with the engine."""

from __future__ import annotations

import json

import click


@click.group()
def bench() -> None:
    """Benchmarks (not timed tests): print numbers to record in docs/."""


@bench.command("engine")
@click.option(
    "--size",
    "sizes",
    type=click.IntRange(32, 2048),
    multiple=True,
    help="Longest side of the pair, px; repeat [default: 256 and 512].",
)
@click.option("--iterations", default=30, show_default=True, help="Baseline steps.")
@click.option(
    "--learning-rate",
    default=None,
    type=float,
    help="Adam step in pixel units, both sides [default: the job default].",
)
@click.option("--weights", default=None, help="VGG16 weights (default: STYLIZE_VGG_WEIGHTS).")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="The eager seed loop against the compiled step's variants.",
)
@click.option(
    "--legacy-iterations",
    default=200,
    show_default=True,
    type=click.IntRange(0),
    help="Iterations of the legacy and the default job compared by the seconds to "
    "the legacy's quality; 0 skips it.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def engine(
    sizes: tuple[int, ...],
    iterations: int,
    learning_rate: float | None,
    weights: str | None,
    baseline: bool,
    legacy_iterations: int,
    as_json: bool,
) -> None:
    """Seed-faithful eager Adam vs the compiled engine (Adam, L-BFGS; float32, bfloat16):
    ms/iteration and seconds to the same loss; and the default job's seconds to the legacy
    default's quality; side by side at each size."""
    from bench.engine import VARIANTS, run
    from worker.engine.errors import WeightsError

    try:
        numbers = run(
            sizes or (256, 512), iterations, learning_rate, weights, baseline, legacy_iterations
        )
    except (WeightsError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(numbers))
        return
    for size, row in numbers["sizes"].items():  # type: ignore[attr-defined]
        if "legacy" in row:
            old = row["legacy"]
            reached = old["default_seconds_to_legacy_quality"]
            click.echo(
                f"{size} px: legacy default {old['legacy_seconds']:.1f} s to gram geo "
                f"{old['legacy_gram_geo']:.3f}, sw geo {old['legacy_sw_geo']:.3f}; the "
                f"default got there in "
                f"{'never' if reached is None else f'{reached:.1f} s'} (ran "
                f"{old['default_seconds']:.1f} s to gram geo "
                f"{old['default_final']['gram_geo']:.3f}); speedup_to_legacy_quality "
                f"{old['speedup_to_legacy_quality'] or 0:.2f}x"
            )
        if "target_loss" not in row:
            continue
        click.echo(
            f"{size} px ({row['size'][1]}x{row['size'][0]}), target loss "
            f"{row['target_loss']:.4g}: the baseline's after {iterations} iterations"
        )
        click.echo(
            f"  {'':16} {'ms/iter':>8} {'s to target':>12} {'iterations':>10} {'loss (f32)':>10}"
        )
        click.echo(
            f"  {'baseline (eager)':16} {row['baseline_ms_per_iter']:8.0f} "
            f"{row['baseline_seconds_to_target']:12.1f} {iterations:10}"
        )
        for name in VARIANTS:
            seconds = row[f"{name}_seconds_to_target"]
            reached = f"{seconds:12.1f}" if seconds else f"{'not reached':>12}"
            click.echo(
                f"  {name:16} {row[f'{name}_ms_per_iter']:8.0f} {reached} "
                f"{row[f'{name}_iterations_to_target'] or '-':>10} "
                f"{row[f'{name}_float32_loss']:10.4g}"
            )
        speedup = row["speedup_to_quality"]
        shown = f"{speedup:.2f}x" if speedup else "never reached the target"
        click.echo(f"  speedup_to_quality ({numbers['default']}): {shown}")


POSTGRES_HELP = (
    "PostgreSQL server where a scratch database is created and dropped "
    "[default: postgres@127.0.0.1:5432]"
)


def database_choice(sqlite: bool, postgres: str | None) -> str | None:
    """The PostgreSQL server URL for a scratch database, or None for a temporary SQLite file."""
    from bench.stack import DEFAULT_POSTGRES

    return None if sqlite else postgres or DEFAULT_POSTGRES


@bench.command("queue")
@click.option(
    "--jobs",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Tiny jobs sent one at a time, each to an idle worker.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Also measure what progress reporting costs the engine's loop.",
)
@click.option("--size", default=256, show_default=True, help="Image size for the progress cost.")
@click.option("--iterations", default=10, show_default=True, help="Iterations per engine run.")
@click.option("--rounds", default=3, show_default=True, help="Alternating runs with/without.")
@click.option("--postgres", default=None, metavar="URL", help=POSTGRES_HELP)
@click.option("--sqlite", is_flag=True, help="A temporary SQLite file instead of PostgreSQL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def queue(
    jobs: int,
    progress: bool,
    size: int,
    iterations: int,
    rounds: int,
    postgres: str | None,
    sqlite: bool,
    as_json: bool,
) -> None:
    """Submit -> running p50/p99 over tiny jobs (real API, database, Redis and worker), the
    service's overhead per job as one number, and the cost of progress reporting."""
    from bench.queue import run_queue_bench
    from bench.stack import StackError
    from bench.worker_process import WorkerStartError

    measured = (size, iterations, rounds) if progress else None
    try:
        numbers = run_queue_bench(jobs, database_choice(sqlite, postgres), measured)
    except (StackError, WorkerStartError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(numbers))
        return
    report = numbers["queue"]
    click.echo(
        f"{report['jobs']} tiny jobs one at a time, idle worker, "  # type: ignore[index]
        f"{numbers['database']}; milliseconds"
    )
    click.echo(f"  {'':34} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, label in (
        ("submit_to_running", "submit -> running"),
        ("submit_http", "  of which the POST's round trip"),
        ("worker_extra", "worker outside the engine"),
        ("overhead", "overhead per job (the sum)"),
    ):
        row = report[name + "_ms"]  # type: ignore[index]
        click.echo(f"  {label:34} {row['p50']:8.2f} {row['p99']:8.2f} {row['max']:8.2f}")
    if "progress" in numbers:
        cost = numbers["progress"]
        click.echo(
            f"progress reporting at {cost['size']} px: "  # type: ignore[index]
            f"{cost['ms_per_iter_without']:.1f} ms/iter without, "
            f"{cost['ms_per_iter_with']:.1f} with ({cost['loop_overhead_pct']:+.1f} %); "
            f"one report {cost['reporter_call_us']:.0f} us "
            f"({cost['reporter_pct_of_iteration']:.2f} % of an iteration)"
        )


@bench.command("api")
@click.option(
    "--connections",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Requests kept in flight (wrk connections).",
)
@click.option(
    "--seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(1, 600),
    help="Measured seconds per endpoint and configuration.",
)
@click.option(
    "--warmup",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="Unmeasured seconds of the same load first.",
)
@click.option(
    "--streams",
    default=0,
    show_default=True,
    type=click.IntRange(0, 5000),
    help="Event streams held open on each API process for the whole run.",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    metavar="NAME=VALUE",
    help="Also measure an API process with this setting (repeat for several settings of one "
    "configuration), side by side; GUNICORN_CMD_ARGS='--worker-class gthread --threads 16' "
    "measures the thread-per-request server of before issue 17.",
)
@click.option(
    "--against-ref",
    default=None,
    metavar="GIT_REF",
    help="Also measure an API process running this git revision of the checkout (e.g. main), "
    "side by side.",
)
@click.option("--postgres", default=None, metavar="URL", help=POSTGRES_HELP)
@click.option("--sqlite", is_flag=True, help="A temporary SQLite file instead of PostgreSQL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def api(
    connections: int,
    seconds: float,
    warmup: float,
    streams: int,
    against: tuple[str, ...],
    against_ref: str | None,
    postgres: str | None,
    sqlite: bool,
    as_json: bool,
) -> None:
    """Status polls, job listings and submits (two real photos) per second with p50/p99
    latency, wrk against one gunicorn API process on PostgreSQL and Redis."""
    from bench.api_load import Config, parse_config, run_api_bench
    from bench.stack import StackError
    from bench.wrk import WrkError

    configs = [Config("this checkout", {})]
    if against or against_ref:
        try:
            configs.append(parse_config(against, against_ref))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--against") from None
    try:
        numbers = run_api_bench(
            configs,
            connections,
            seconds,
            warmup,
            database_choice(sqlite, postgres),
            streams=streams,
        )
    except (WrkError, StackError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(numbers))
        return
    click.echo(
        f"one API process ({numbers['api']}), {numbers['database']}, {connections} "
        f"connections, {streams} event streams held open, {seconds:g} s per row (wrk)"
    )
    click.echo(
        f"{'endpoint':8} {'configuration':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6}"
    )
    for endpoint in ("poll", "list", "submit"):
        for row in numbers["configs"]:  # type: ignore[attr-defined]
            result = row[endpoint]
            click.echo(
                f"{endpoint:8} {row['label'][:32]:32} {result['requests_per_s']:8.1f} "
                f"{result['p50_ms']:8.2f} {result['p99_ms']:8.2f} {result['errors']!s:>6}"
            )


@bench.command("soak")
@click.option(
    "--minutes",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0.2, 120),
    help="How long the clients run (then the stack settles).",
)
@click.option("--postgres", default=None, metavar="URL", help=POSTGRES_HELP)
@click.option("--sqlite", is_flag=True, help="A temporary SQLite file instead of PostgreSQL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a summary.")
def soak(minutes: float, postgres: str | None, sqlite: bool, as_json: bool) -> None:
    """Minutes of mixed and hostile use of a whole private stack (submits, polls, streams,
    waits, cancels, deletes, slow and trickling webhook receivers, a killed worker): jobs that
    ended exactly once, webhooks per ended job, leaked files, API latency, peak RSS."""
    from bench.soak import run_soak
    from bench.stack import StackError
    from bench.worker_process import WorkerStartError

    try:
        report = run_soak(minutes, database_choice(sqlite, postgres))
    except (StackError, WorkerStartError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report))
        return
    for name, value in report.items():
        click.echo(f"{name:40} {value}")


def int_list(_ctx: click.Context, _param: click.Parameter, value: str) -> list[int]:
    """``1,2,4``: positive integers."""
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("use comma-separated whole numbers, e.g. 1,2,4,8") from None
    if not numbers or min(numbers) < 1:
        raise click.BadParameter("use comma-separated whole numbers of at least 1")
    return numbers


@bench.command("scale")
@click.option(
    "--jobs",
    default=12,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Jobs sent at once for each worker count.",
)
@click.option(
    "--workers",
    "worker_counts",
    default="1,2",
    show_default=True,
    callback=int_list,
    help="Worker processes, one count after the other.",
)
@click.option(
    "--size",
    default=64,
    show_default=True,
    type=click.IntRange(32, 2048),
    help="max_size of each job.",
)
@click.option(
    "--iterations",
    default=10,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Iterations of each job.",
)
@click.option(
    "--gpu-hosts",
    "hosts",
    default="1,2,4,8,16",
    show_default=True,
    callback=int_list,
    help="Host counts for the projection.",
)
@click.option(
    "--per-host-jobs-per-min",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="One GPU host's rate for the projection [default: 1 worker's rate here].",
)
@click.option(
    "--hub-submits-per-s",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Submits/s one hub accepts (from 'bench api'): caps the projection.",
)
@click.option("--postgres", default=None, metavar="URL", help=POSTGRES_HELP)
@click.option("--sqlite", is_flag=True, help="A temporary SQLite file instead of PostgreSQL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def scale(
    jobs: int,
    worker_counts: list[int],
    size: int,
    iterations: int,
    hosts: list[int],
    per_host_jobs_per_min: float | None,
    hub_submits_per_s: float | None,
    postgres: str | None,
    sqlite: bool,
    as_json: bool,
) -> None:
    """The same jobs with 1, then 2 worker processes here: jobs/minute each, and N GPU hosts."""
    from bench.scale import run_scale_bench
    from bench.stack import StackError
    from bench.worker_process import WorkerStartError

    try:
        numbers = run_scale_bench(
            jobs,
            worker_counts,
            size,
            iterations,
            database_choice(sqlite, postgres),
            hosts,
            per_host_jobs_per_min,
            hub_submits_per_s,
        )
    except (StackError, WorkerStartError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(numbers))
        return
    click.echo(
        f"{jobs} jobs ({size} px, {iterations} iterations) sent at once, "
        f"{numbers['database']}, this machine's CPU"
    )
    click.echo(f"  {'workers':>7} {'seconds':>8} {'jobs/min':>9} {'used':>5}")
    for run in numbers["runs"]:  # type: ignore[attr-defined]
        click.echo(
            f"  {run['workers']:7} {run['seconds']:8.1f} {run['jobs_per_min']:9.1f} "
            f"{run['workers_used']:5}"
        )
    click.echo(
        f"  last / first: {numbers['speedup']:.2f}x (the workers share this machine's cores)"
    )
    per_host = numbers["projection_per_host_jobs_per_min"]
    source = (
        "given"
        if per_host_jobs_per_min
        else "1 worker's rate here; --per-host-jobs-per-min sets a GPU host's"
    )
    click.echo(
        f"N GPU hosts at {per_host} jobs/min each ({source}): N x that, as each host "
        "brings its own GPU; capped by --hub-submits-per-s x 60 when given"
    )
    for row in numbers["projection"]:  # type: ignore[attr-defined]
        click.echo(
            f"  {row['hosts']:4} hosts {row['jobs_per_min']:10.1f} jobs/min  ({row['limited_by']})"
        )


@bench.command("memory")
@click.option(
    "--backend",
    type=click.Choice(["tensorflow", "jax"]),
    default="tensorflow",
    show_default=True,
    help="Keras backend of the probes.",
)
@click.option(
    "--precision",
    "precisions",
    type=click.Choice(["float32", "bfloat16"]),
    multiple=True,
    help="Repeat for several [default: float32 and bfloat16].",
)
@click.option(
    "--largest",
    default=2048,
    show_default=True,
    type=click.IntRange(128, 8192),
    help="Largest output measured, px.",
)
@click.option(
    "--series",
    "series",
    type=click.Choice(["opt", "fwd", "tiled"]),
    multiple=True,
    help="Only these series (repeat); the fit needs opt [default: all three].",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per configuration.")
def memory(
    backend: str, precisions: tuple[str, ...], largest: int, series: tuple[str, ...], as_json: bool
) -> None:
    """Peak memory of a job (fresh process, peak RSS above the loaded engine) against output
    and style pixels, layers and precision; the model's coefficients fitted to it."""
    from dataclasses import asdict

    from bench.memory import fit, predict, run

    def show(row: dict) -> None:
        if as_json:
            click.echo(json.dumps({k: v for k, v in row.items() if k != "params"}))
        else:
            click.echo(
                f"{row['series']:5} {row['precision']:8} {row['config'][:58]:58} "
                f"{row['pixels'] / 1e6:6.2f} {row['style_pixels'] / 1e6:6.2f} "
                f"{row['job_mb']:8.0f} {row['predicted_mb']:9.0f} {row['seconds']:6.0f}"
            )

    if not as_json:
        click.echo(
            f"{'':5} {'':8} {'configuration':58} {'out MP':>6} {'sty MP':>6} "
            f"{'job MB':>8} {'model MB':>9} {'s':>6}"
        )
    rows = list(
        run(
            backend,
            precisions or ("float32", "bfloat16"),
            largest,
            show,
            series or ("opt", "fwd", "tiled"),
        )
    )
    if not any(row["series"] == "opt" for row in rows):
        return  # nothing to fit: the rows' model column is the recorded coefficients'
    for precision in sorted({row["precision"] for row in rows}):
        mine = [row for row in rows if row["precision"] == precision]
        fitted = fit(mine, [row for row in rows if row["series"] == "tiled"])
        checks = [
            (row["job_mb"], predict(row["params"], precision, row["budget_mb"], backend, fitted))
            for row in mine
        ]
        worst = max(abs(p - m) / m for m, p in checks)
        under_budget = all(
            row["job_mb"] <= row["budget_mb"] for row in mine if row["budget_mb"] is not None
        )
        line = {
            "backend": backend,
            "precision": precision,
            "fitted": asdict(fitted),
            "worst_error": round(worst, 3),
            "tiled_under_budget": under_budget,
        }
        click.echo(
            json.dumps(line)
            if as_json
            else f"fitted {backend}/{precision}: {asdict(fitted)}; worst error "
            f"{worst:.0%}; tiled runs under budget: {under_budget}"
        )


def parse_overrides(items: tuple[str, ...]) -> dict[str, object]:
    """``NAME=VALUE`` job parameters; VALUE is JSON when it parses, else a string."""
    overrides: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: use NAME=VALUE", param_hint="--param")
        try:
            overrides[name] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[name] = raw
    return overrides


@bench.command("quality")
@click.option(
    "--size",
    "sizes",
    type=click.IntRange(32, 8192),
    multiple=True,
    help="Longest side, px; repeat for several [default: 256 and 512].",
)
@click.option(
    "--pair",
    "pairs",
    type=click.Path(exists=True, dir_okay=False),
    nargs=2,
    multiple=True,
    metavar="CONTENT STYLE",
    help="A pair to add to the examples; repeat for more.",
)
@click.option("--only", is_flag=True, help="Only the --pair pairs, not the examples.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Job parameter to override, e.g. optimizer=adam.",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    metavar="NAME=VALUE",
    help="Also run each pair with this override (repeat for several) first, as the "
    "reference the tested configuration's time to quality is measured to.",
)
@click.option(
    "--against-legacy",
    is_flag=True,
    help="The reference is the default before coarse-to-fine (one scale, Gram "
    "matrices, the last iterate) at the same size, plus any --against; the --param "
    "overrides apply to the tested run only.",
)
@click.option(
    "--sheet-dir",
    default="var/bench",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where quality-<size>.png goes.",
)
@click.option(
    "--pictures",
    default=None,
    type=click.Path(file_okay=False),
    help="Also write every picture at full size here, to look at as it is.",
)
@click.option("--weights", default=None, help="VGG16 weights (default: STYLIZE_VGG_WEIGHTS).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per pair.")
def quality(
    sizes: tuple[int, ...],
    pairs: tuple[tuple[str, str], ...],
    only: bool,
    params: tuple[str, ...],
    against: tuple[str, ...],
    against_legacy: bool,
    sheet_dir: str,
    pictures: str | None,
    weights: str | None,
    as_json: bool,
) -> None:
    """Per pair: seconds, the job's style and content ratios, the yardstick's content ratio
    off VGG16's grid, each classic layer's Gram ratio and their geometric mean, the sliced
    Wasserstein geometric mean, chroma drift and the frame; with a reference, the seconds to
    reach its quality."""
    from pathlib import Path

    from pydantic import ValidationError

    from bench.quality import Reference, example_pairs, run
    from shared.params import JobParams
    from worker.engine.errors import EngineInputError, WeightsError

    overrides = parse_overrides(params)
    reference = None
    if against or against_legacy:
        reference = Reference(parse_overrides(against), legacy=against_legacy)
    try:
        tested = JobParams(**overrides)
    except ValidationError as exc:
        raise click.BadParameter(str(exc.errors()[0]["msg"]), param_hint="--param") from None
    try:
        if reference is not None:
            reference.params(tested)
    except ValidationError as exc:
        raise click.BadParameter(str(exc.errors()[0]["msg"]), param_hint="--against") from None
    chosen = [(Path(c), Path(s)) for c, s in pairs]
    if not only:
        chosen = example_pairs() + chosen
    if not chosen:
        raise click.UsageError("--only needs at least one --pair CONTENT STYLE")
    if not as_json:
        click.echo(
            f"{'pair':34} {'config':9} {'size':>5} {'s':>6} {'style':>6} {'content':>7} {'off':>5} "
            f"{'gram ratios b1..b5':>29} {'geo':>6} {'sw geo':>6} {'chroma':>6} "
            f"{'foreign':>7} {'edge':>5} {'ticks':>5} {'row':>5} {'like':>5} {'to ref':>6}"
        )
    try:
        for row in run(
            chosen,
            sizes or (256, 512),
            overrides,
            Path(sheet_dir),
            weights,
            reference,
            Path(pictures) if pictures else None,
        ):
            if as_json:
                click.echo(json.dumps(row.as_dict()))
                continue
            m = row.metrics
            to_ref = "" if row.seconds_to_reference is None else f"{row.seconds_to_reference:6.1f}"
            if row.config == "tested" and reference is not None and not to_ref:
                to_ref = "never"
            click.echo(
                f"{row.content + ' + ' + row.style:34} {row.config:9} {row.size:5} "
                f"{row.seconds:6.1f} {row.style_ratio:6.3f} {row.content_ratio:7.3f} "
                f"{m.content_off_grid:5.3f} "
                f"{' '.join(f'{r:5.3f}' for r in m.gram_ratios):>29} {m.gram_geo:6.3f} "
                f"{m.sw_geo:6.3f} {m.chroma_drift:6.2f} {m.foreign_chroma:7.4f} "
                f"{m.edge_dark:5.1f} {m.edge_ticks:5.2f} {m.edge_row:5.1f} {m.likeness:5.3f} "
                f"{to_ref:>6}"
            )
    except (WeightsError, EngineInputError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"contact sheets: {sheet_dir}/quality-<size>.png", err=True)
