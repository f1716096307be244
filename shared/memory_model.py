"""A job's peak memory, predicted before it starts, and the tiling that keeps it in a budget.

Pure arithmetic (the API refuses a job that fits no worker; the worker and ``stylize run``
check again and plan their tiles with it). What a job holds, in MB:

- an optimisation pass (forward, backward, Adam) over P pixels: ``opt x units x P`` (P: the
  picture's or tile's pixels with the margins ``edge_padding=mirror`` and, untiled,
  ``grid_jitter`` add, ``pass_pixels``);
- a forward-only pass (style statistics, content features, the final measure): ``fwd x units x P``
  at the largest layer pair alive at once;
- host arrays per pixel of the level being refined (image, Adam's moments, the average, the
  assembled gradient, the blending weights, the inputs): ``host x pixels``;
- fixed: ``base`` (the step's trace, kernels, the runtime's working memory).

``units`` is the activations per input pixel of VGG16 cut after the job's deepest layer
(block1's 64-channel maps count 64, block2's 128/4, ...). A level whose optimisation pass does
not fit is refined in overlapping tiles (a pass per tile); a style image whose forward pass does
not fit is measured in tiles; the final measure runs at the largest size one pass allows.

Coefficients: measured by ``stylize bench memory`` (peak RSS of a fresh process above its
loaded engine, VGG16 weights included in neither), fitted by least squares; see ``COEFFICIENTS``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.levels import edge_margin, fit_size, levels, output_size, pass_pixels, style_size
from shared.params import MAX_SIZE, VGG16_LAYERS, JobParams

BLOCK_CHANNELS = (64, 128, 256, 512, 512)
TILE_OVERLAP = 1 / 4  # of a tile's side, shared with its neighbour (at least MIN_OVERLAP)
MIN_OVERLAP = 32
MIN_TILE = 128  # a tile smaller than this is mostly overlap: the job does not fit
HALO = 64  # px of context around a forward-only tile (cropped from its statistics)
MB = 1024 * 1024


@dataclass(frozen=True)
class Coefficients:
    """Bytes per activation unit and pixel (opt, fwd), bytes per pixel (host), fixed MB, and
    ``slack``: the factor every prediction is multiplied by (the largest measured ÷ fitted
    ratio: the allocator's peaks are not quite linear in the pixels)."""

    opt: float
    fwd: float
    host: float
    base_mb: float
    slack: float = 1.0


# (backend, precision) -> coefficients, fitted to `stylize bench memory`
# (docs/BENCHMARKS.md#memory), each the fit's slack times the run-to-run spread of one plan's
# peak. ``host`` was raised from the fitted 200 to 225 bytes per pixel when a 2048 px job tiled
# under a 2000 MB budget peaked at 2090 MB (2026-12-03), and to 265 when an AVX2 CPU's 2048 px
# tiled row, every convolution padded, needed 262 (2026-12-07). A backend not measured uses
# TensorFlow's figures. float32 (since 2026-12-06, every convolution padding its input's edge)
# is fitted on the CPU class that holds the most: an AVX2 CPU for the optimisation pass and the
# fixed part, where AVX-512 CPUs held 0.65-0.82x of those jobs; an AVX-512 one (AMD,
# AVX512-BF16 without AMX) for the forward-only pass, where its largest (256 px, style scale 4)
# held 1.10x the AVX2 CPU's. bfloat16 is fitted on that AVX-512 CPU: `precision=auto` picks it
# only where the CPU has bfloat16 instructions, and the engine plans an explicit bfloat16
# elsewhere (emulated) with float32's figures: on an AVX2 CPU such jobs held 0.52-0.70x of those
# (2026-12-07). Its earlier fit, on an Intel CPU with AMX before the padding, held 0.64-0.75x of
# what this one holds.
RUN_SPREAD = 1.12  # two runs of the same tiled plan on the AVX2 CPU peaked 12 % apart (2026-12-03)
# Five runs of one tiled bfloat16 plan on the AVX-512 CPU held 431-554 MB (2026-12-06), and
# one-pass runs 826-926 MB: bfloat16's peaks spread more than float32's.
BF16_SPREAD = 1.28
# A tiled level is planned to fit the budget ÷ this (its predicted peak is multiplied by it). On
# the AVX-512 CPU (2026-12-04) a 2048 px job under 4000 MB held 3220 MB above the engine in its
# tiled levels with 200 iterations: 0.93x their prediction without this factor (3478), where a
# one-pass 724 px job held 0.67x of its own. The tiled loop's host arrays and its second
# compiled function outgrow the fit, which is made on one-pass jobs. (The 4107-4508 MB peaks
# first put down to the tiled loop were the style statistics' copies at a tiled level's start,
# which tiling.tiled_statistics no longer makes.)
TILED_SLACK = 1.15
COEFFICIENTS: dict[tuple[str, str], Coefficients] = {
    ("tensorflow", "float32"): Coefficients(
        14.73, 5.12, host=265.0, base_mb=380.0, slack=1.18 * RUN_SPREAD
    ),
    ("tensorflow", "bfloat16"): Coefficients(
        8.17, 6.46, host=265.0, base_mb=262.0, slack=1.06 * BF16_SPREAD
    ),
    # JAX 0.10 (XLA on the same CPU, 2026-12-04, `stylize bench memory --backend jax`): a pass
    # holds about twice TensorFlow's bytes per unit, and the fixed part grows with the programs a
    # job compiles: Keras runs the forward-only passes op by op on JAX, each op compiled once per
    # shape (810 compilations in the 320 px tiled test job). Fitted on one-pass jobs with a small
    # style: 485 MB (float32), 825 (bfloat16); a 320 px job with its style at style_scale 1.5
    # needed 622 and 941, and tiled with its style in tiles 799 and 1168: base_mb covers the
    # largest (docs/BENCHMARKS.md#memory). With the Laplacian loss on by default (2026-12-05) the
    # tiled float32 job held 1174-1215 MB where base 800 planned 1280, and once more than 1280:
    # float32's base went to 950. XLA's kernels do not change with the CPU's vector width
    # (--xla_cpu_max_isa=AVX2: 1648 MB against 1594-1648 for a 512 px pass).
    # With every convolution padded (2026-12-06) the same tiled job held 1468 MB where it had
    # held 1189 the same hour (13 more ops to compile per shape, and their copies): both bases
    # rose by those 280 MB. bfloat16's, first measured that night on an AVX-512 CPU: the test job
    # held 1708 MB in one pass (0.88 of its prediction) and 1306 MB in 3x3 tiles under 1900 (0.69).
    ("jax", "float32"): Coefficients(13.92, 6.12, host=245.0, base_mb=1230.0, slack=1.11),
    ("jax", "bfloat16"): Coefficients(13.79, 5.18, host=245.0, base_mb=1480.0, slack=1.02),
}


@dataclass(frozen=True)
class Fit:
    """The largest max_size, and then style_scale, with which a job fits a budget."""

    max_size: int
    style_scale: float


@dataclass(frozen=True)
class LevelPlan:
    """One level: its size, its iterations, and its tile's (H, W) when refined in tiles."""

    size: tuple[int, int]
    iterations: int
    tile: tuple[int, int] | None


@dataclass(frozen=True)
class Plan:
    """How a job runs within a budget, and its predicted peak (MB above the loaded engine)."""

    levels: tuple[LevelPlan, ...]
    forward_pixels: int  # the largest forward-only pass; larger images are measured in tiles
    measure_size: tuple[int, int]  # where the final picture is measured
    peak_mb: float
    fits: bool


def coefficients(precision: str, backend: str = "tensorflow") -> Coefficients:
    """The measured coefficients for ``backend`` and ``precision`` (TensorFlow's for a backend
    not measured)."""
    return COEFFICIENTS.get((backend, precision), COEFFICIENTS[("tensorflow", precision)])


def activation_units(layers: Sequence[str]) -> float:
    """Activations per input pixel of VGG16 up to the deepest of ``layers``: each conv and
    pooling output, its channels over the pixels it spans."""
    deepest = max(VGG16_LAYERS.index(name) for name in layers)
    units, block = 6.0, 1  # the RGB input and its preprocessed copy
    for name in VGG16_LAYERS[: deepest + 1]:
        this_block = int(name[5])
        if this_block != block:  # the pooling output of the previous block
            units += BLOCK_CHANNELS[block - 1] / 4.0**block
            block = this_block
        units += BLOCK_CHANNELS[block - 1] / 4.0 ** (block - 1)
    return units


def content_units(layers: Sequence[str]) -> float:
    """Content-layer activations per input pixel (what a tiled level keeps per tile)."""
    return sum(BLOCK_CHANNELS[int(n[5]) - 1] / 4.0 ** (int(n[5]) - 1) for n in layers)


def tile_grid(size: tuple[int, int], tile: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners of equal tiles covering ``size`` with at least the overlap."""
    corners = []
    for length, side in zip(size, tile, strict=True):
        count = tile_count(length, side)
        step = (length - side) / max(count - 1, 1)
        corners.append([round(n * step) for n in range(count)])
    return [(y, x) for y in corners[0] for x in corners[1]]


def overlap(side: int) -> int:
    """Pixels a tile of ``side`` shares with its neighbour."""
    return max(MIN_OVERLAP, round(side * TILE_OVERLAP))


def tile_count(length: int, side: int) -> int:
    """Tiles of ``side`` along ``length`` so that neighbours overlap by at least overlap(side)."""
    if side >= length:
        return 1
    return math.ceil((length - overlap(side)) / (side - overlap(side)))


def _tile_for(
    size: tuple[int, int],
    room_mb: float,
    pass_bytes: float,
    kept_bytes: float,
    params: JobParams,
) -> tuple[tuple[int, int] | None, float]:
    """The largest square-ish tile whose pass (``pass_bytes`` per pass pixel, the job's edge
    margins included), with every tile's cached content targets (``kept_bytes`` per tile
    pixel), fits ``room_mb``; and their MB. (None, the one-pass MB) when even MIN_TILE does
    not fit."""
    side = min(max(size), int(math.sqrt(max(room_mb, 0.0) * MB / pass_bytes)))
    while side >= MIN_TILE:
        tile = (min(side, size[0]), min(side, size[1]))
        kept = kept_bytes * len(tile_grid(size, tile)) * tile[0] * tile[1]
        needed = (pass_bytes * pass_pixels(tile, params) + kept) / MB
        if needed <= room_mb:
            return tile, needed
        side = int(side * 0.95)
    return None, pass_bytes * pass_pixels(size, params, shifted=True) / MB


def plan(
    params: JobParams,
    content_hw: tuple[int, int],
    style_hws: Sequence[tuple[int, int]],
    precision: str = "float32",
    budget_mb: float | None = None,
    backend: str = "tensorflow",
    measured: Coefficients | None = None,
) -> Plan:
    """How the job runs (tiles where a pass would not fit ``budget_mb``; None: never) and its
    predicted peak in MB (with ``measured`` coefficients instead of the recorded ones, when
    given: ``stylize bench memory`` checks a fresh fit with it)."""
    c = measured or coefficients(precision, backend)
    units = activation_units([*params.content_layers, *params.style_layers])
    budget_mb = None if budget_mb is None else budget_mb / c.slack  # in the fit's units
    kept = content_units(params.content_layers) * 4  # bytes per pixel of cached content targets
    output = output_size(content_hw, params)
    peak, fits, planned = c.base_mb, True, []
    largest_style = 0
    for size, iterations in levels(content_hw, params):
        host = c.host * size[0] * size[1] / MB
        level_mb = c.opt * units * pass_pixels(size, params, shifted=True) / MB
        tile, level_peak = None, c.base_mb + host + level_mb
        if budget_mb is not None and level_peak > budget_mb:
            room = budget_mb / TILED_SLACK - c.base_mb - host
            tile, level_mb = _tile_for(size, room, c.opt * units, kept, params)
            level_peak = (c.base_mb + host + level_mb) * TILED_SLACK
            fits = fits and tile is not None and params.optimizer == "adam"
            tile = tile if params.optimizer == "adam" else None
        peak = max(peak, level_peak)
        planned.append(LevelPlan(size, iterations, tile))
        styles = (pass_pixels(style_size(hw, size, params), params) for hw in style_hws)
        largest_style = max([largest_style, *styles])
    output_px = output[0] * output[1]
    host = c.host * output_px / MB
    if budget_mb is None:
        largest_pass = forward_pixels = max(largest_style, pass_pixels(output, params))
    else:
        largest_pass = int(max(0.0, budget_mb - c.base_mb - host) * MB / (c.fwd * units))
        # the square tile whose pass, margins included, is the largest one
        forward_pixels = int(max(0.0, math.sqrt(largest_pass) - 2 * edge_margin(params))) ** 2
        fits = fits and forward_pixels >= (MIN_TILE + 2 * HALO) ** 2
    style_pass = min(largest_style, largest_pass)
    measure = output
    if pass_pixels(output, params) > largest_pass:  # measured smaller: what one pass allows
        longest = int(math.sqrt(forward_pixels * max(output) / min(output)))
        measure = fit_size(*output, longest)
        while longest > MIN_TILE and pass_pixels(measure, params) > largest_pass:
            longest -= 1
            measure = fit_size(*output, longest)
    measure_pass = pass_pixels(measure, params)
    peak = max(peak, c.base_mb + host + c.fwd * units * max(style_pass, measure_pass) / MB)
    if budget_mb is not None:
        fits = fits and peak <= budget_mb
    return Plan(tuple(planned), forward_pixels, measure, peak * c.slack, fits)


def estimate_job_mb(
    params: JobParams,
    content_hw: tuple[int, int],
    style_hws: Sequence[tuple[int, int]],
    precision: str = "float32",
    budget_mb: float | None = None,
) -> float:
    """The predicted peak memory (MB) of the job on a worker whose budget is ``budget_mb``
    (a job bigger than one pass is planned into tiles that fit it; None: no tiling)."""
    return plan(params, content_hw, style_hws, precision, budget_mb).peak_mb


def largest_fit(
    params: JobParams,
    content_hw: tuple[int, int],
    style_hws: Sequence[tuple[int, int]],
    budget_mb: float,
    precision: str = "float32",
    backend: str = "tensorflow",
) -> Fit | None:
    """The largest max_size (with the job's style_scale where possible), and then the largest
    style_scale, with which the job fits ``budget_mb``; None if nothing does."""

    def fits(max_size: int, style_scale: float) -> bool:
        changed = params.model_copy(update={"max_size": max_size, "style_scale": style_scale})
        return plan(changed, content_hw, style_hws, precision, budget_mb, backend).fits

    scale = params.style_scale
    if not fits(32, scale):
        low, high = 0.1, scale
        if not fits(32, low):
            return None
        for _ in range(20):  # the largest style_scale that fits at the smallest size
            middle = (low + high) / 2
            low, high = (middle, high) if fits(32, middle) else (low, middle)
        scale = math.floor(low * 100) / 100
    low, high = 32, MAX_SIZE
    while low < high:  # the largest max_size that fits with that style_scale
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle, scale) else (low, middle - 1)
    return Fit(low, scale)
