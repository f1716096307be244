"""``stylize bench memory``: a job's peak memory against its pixels, layers and precision; the
memory model's coefficients fitted to it, and its predictions checked.

Each configuration runs as a 3-iteration job in a fresh process (``bench/memory_probe.py``):
its peak RSS above the loaded engine, on the CPU (for a GPU, the accelerator's own peak would
be the figure; not measured here). Three series:

- ``opt``: one pass per level, a small style (``style_scale`` 0.25), sizes growing: the
  optimisation pass's bytes per activation unit and pixel, and the fixed part;
- ``fwd``: a small output with a large style (``style_scale`` 2-4): the forward-only pass's;
- ``tiled``: large outputs under a budget, refined in tiles: the host arrays' bytes per pixel,
  and the check that the measured peak stays under the budget.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shared.levels import output_size, pass_pixels, style_size
from shared.memory_model import (
    MB,
    Coefficients,
    LevelPlan,
    activation_units,
    content_units,
    plan,
    tile_grid,
)
from shared.params import JobParams

CONTENT_HW = (512, 512)  # the probe's content (the astronaut, enlarged to max_size when smaller)
STYLE_HW = (446, 512)  # the Hubble field


@dataclass(frozen=True)
class Config:
    """One measured job: its series, parameter overrides and budget (MB; None: one pass)."""

    series: str
    overrides: dict[str, Any]
    budget_mb: float | None = None

    def params(self) -> JobParams:
        """The job's parameters, as the probe runs them."""
        return JobParams(**{"preview_every": 0, **PROBE_JOB, **self.overrides})

    def label(self) -> str:
        """A short description for the table."""
        shown = {k: v for k, v in self.overrides.items() if k not in ("iterations", "scales")}
        budget = "" if self.budget_mb is None else f" budget {self.budget_mb:.0f} MB"
        return " ".join(f"{k}={v}" for k, v in shown.items()) + budget


# What the probes run besides each configuration's own overrides: the default job's loss and
# averaging, one level (the schedule's coarser levels are smaller passes).
PROBE_JOB = {"iterations": 3, "scales": 1}


def configs(
    precisions: tuple[str, ...],
    largest: int,
    backend: str = "tensorflow",
    series: tuple[str, ...] = ("opt", "fwd", "tiled"),
) -> list[Config]:
    """The measured configurations of ``series`` up to ``largest`` px."""
    found = []
    for precision in precisions:
        for size in (128, 256, 512, 768, 1024, 1536):
            if size <= largest:
                found.append(
                    Config("opt", {"max_size": size, "style_scale": 0.25, "precision": precision})
                )
        for size, scale in ((128, 2.0), (128, 4.0), (256, 4.0)):
            found.append(
                Config("fwd", {"max_size": size, "style_scale": scale, "precision": precision})
            )
    found.append(
        Config(
            "opt",
            {
                "max_size": 512,
                "style_scale": 0.25,
                "precision": "float32",
                "content_layers": ["block2_conv2"],
                "style_layers": ["block1_conv1", "block2_conv1"],
            },
        )
    )
    for size in (1024, 2048, 4096):
        if size <= largest:
            tiled = Config(
                "tiled", {"max_size": size, "style_scale": 0.5, "precision": precisions[0]}
            )
            found.append(replace(tiled, budget_mb=tiled_budget(tiled.params(), backend)))
    return [config for config in found if config.series in series]


def tiled_budget(params: JobParams, backend: str) -> float:
    """A budget for a tiled probe: a quarter above the least in which the recorded model lets
    the job run (rounded up to 100 MB), so that its final level is refined in tiles."""
    precision = "bfloat16" if params.precision == "bfloat16" else "float32"
    content, styles = content_hw(params), [STYLE_HW]
    low, high = 1.0, plan(params, content, styles, precision, None, backend).peak_mb
    while high - low > 10:
        middle = (low + high) / 2
        fits = plan(params, content, styles, precision, middle, backend).fits
        low, high = (low, middle) if fits else (middle, high)
    return float(math.ceil(high * 1.25 / 100) * 100)


def run_probe(
    job: dict[str, Any], budget_mb: float | None, backend: str, picture: Path | None = None
) -> dict[str, Any]:
    """Run one job in a fresh process (bench/memory_probe.py); its JSON report. With
    ``picture``, the job's picture is written there as PNG."""
    budget = "none" if budget_mb is None else str(budget_mb)
    args = [sys.executable, "-m", "bench.memory_probe", json.dumps(job), budget]
    if picture is not None:
        args.append(str(picture))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed for {job} budget {budget}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe(config: Config, backend: str) -> dict[str, Any]:
    """Run one configuration as the probes run it (PROBE_JOB); its JSON report."""
    return run_probe(config.overrides | PROBE_JOB, config.budget_mb, backend)


def content_hw(params: JobParams) -> tuple[int, int]:
    """The probe's content size: the astronaut's 512 px, enlarged to max_size when smaller."""
    return (max(CONTENT_HW[0], params.max_size),) * 2


def pixels(config: Config) -> tuple[int, int, float]:
    """(output pixels, largest style pixels, activation units) of a configuration; pixels as
    a pass runs on them, edge margins included."""
    params = config.params()
    out = output_size(content_hw(params), params)
    style = style_size(STYLE_HW, out, params)
    units = activation_units([*params.content_layers, *params.style_layers])
    return pass_pixels(out, params), pass_pixels(style, params), units


def fit(rows: list[dict[str, Any]], tiled: list[dict[str, Any]] | None = None) -> Coefficients:
    """Coefficients from the measured rows (see the module docstring): the fixed part and the
    optimisation pass's slope by least squares, the slack that puts every one-pass row under
    the model, the forward pass's slope from the ``fwd`` rows, and the host arrays' bytes per
    pixel from the ``tiled`` rows (default: ``rows``'; host arrays do not depend on the
    network's precision), each the largest the rows need: a budget must not be overrun."""
    opt = [r for r in rows if r["series"] == "opt"]
    x = np.array([[1.0, r["units"] * r["pixels"] / MB] for r in opt])
    y = np.array([r["job_mb"] for r in opt])
    base, per_unit = (float(v) for v in np.linalg.lstsq(x, y, rcond=None)[0])
    base = max(base, 0.0)
    slack = max(float(r["job_mb"] / (base + per_unit * r["units"] * r["pixels"] / MB)) for r in opt)
    fwd = [r for r in rows if r["series"] == "fwd"]
    fwd_coef = max(
        [(r["job_mb"] / slack - base) * MB / (r["units"] * r["style_pixels"]) for r in fwd],
        default=per_unit / 2,
    )
    host = 0.0
    without_host = Coefficients(per_unit, fwd_coef, 0.0, base, 1.0)
    for r in tiled if tiled is not None else [r for r in rows if r["series"] == "tiled"]:
        planned = plan(
            r["params"], content_hw(r["params"]), [STYLE_HW], r["precision"], r["budget_mb"]
        )
        final = replace(planned.levels[-1], tile=tuple(r["tile"]) if r["tile"] else None)
        rest = r["job_mb"] / slack - final_level_mb(final, r["params"], without_host)
        host = max(host, rest * MB / (final.size[0] * final.size[1]))
    return Coefficients(opt=per_unit, fwd=fwd_coef, host=host, base_mb=base, slack=slack)


def final_level_mb(level: LevelPlan, params: JobParams, c: Coefficients) -> float:
    """What the model puts on the final level besides the host arrays: the fixed part, the
    pass (one tile's, when tiled) and the tiles' cached content targets."""
    units = activation_units([*params.content_layers, *params.style_layers])
    if level.tile is None:
        return c.base_mb + c.opt * units * pass_pixels(level.size, params, shifted=True) / MB
    tile_px = level.tile[0] * level.tile[1]
    kept = content_units(params.content_layers) * 4 * len(tile_grid(level.size, level.tile))
    return c.base_mb + (c.opt * units * pass_pixels(level.tile, params) + kept * tile_px) / MB


def predict(
    params: JobParams,
    precision: str,
    budget_mb: float | None,
    backend: str,
    measured: Coefficients | None = None,
) -> float:
    """The model's peak (MB) for a probe's job."""
    return plan(
        params, content_hw(params), [STYLE_HW], precision, budget_mb, backend, measured
    ).peak_mb


def run(
    backend: str,
    precisions: tuple[str, ...],
    largest: int,
    report: Callable[[dict[str, Any]], None],
    series: tuple[str, ...] = ("opt", "fwd", "tiled"),
) -> Iterator[dict[str, Any]]:
    """Measure every configuration, yielding rows (``report`` sees each as it lands)."""
    for config in configs(precisions, largest, backend, series):
        measured = probe(config, backend)
        out_px, style_px, units = pixels(config)
        params = config.params().model_copy(update={"precision": measured["precision"]})
        row = {
            "series": config.series,
            "config": config.label(),
            "backend": backend,
            "precision": measured["precision"],
            "pixels": out_px,
            "style_pixels": style_px,
            "units": units,
            "budget_mb": config.budget_mb,
            "job_mb": round(measured["job_mb"], 1),
            "engine_mb": round(measured["engine_mb"], 1),
            "seconds": round(measured["seconds"], 1),
            "tile": measured["tile"],
            "predicted_mb": round(
                predict(params, measured["precision"], config.budget_mb, backend), 1
            ),
            "params": params,
        }
        report(row)
        yield row
