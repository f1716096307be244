"""The coarse-to-fine schedule, the memory model's plan and fit, and the worker's budget."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from shared.levels import level_sides, levels, output_size
from shared.memory_model import (
    MIN_TILE,
    activation_units,
    estimate_job_mb,
    largest_fit,
    plan,
    tile_grid,
)
from shared.params import JobParams
from shared.settings import Settings
from worker.memory_budget import ram_mb, worker_budget_mb


def test_auto_levels_grow_by_root_two_from_min_scale_to_the_output() -> None:
    assert level_sides(512, JobParams(scales="auto")) == [128, 181, 256, 362, 512]
    assert level_sides(1000, JobParams(scales="auto", min_scale=300)) == [354, 500, 707, 1000]
    assert level_sides(100, JobParams(scales="auto")) == [100], "no larger than min_scale: one"
    assert level_sides(512, JobParams(scales=3)) == [128, 256, 512], "the old pyramid"
    assert level_sides(512, JobParams(scales=1)) == [512]


def test_iterations_are_shared_by_the_levels_and_the_output_is_never_enlarged() -> None:
    planned = levels((300, 451), JobParams(scales="auto", iterations=200, max_size=1024))
    assert [size for size, _ in planned][-1] == (300, 451) == output_size((300, 451), JobParams())
    assert sum(its for _, its in planned) == 200 and len(planned) == 4  # 159, 226, 319, 451
    few = levels((512, 512), JobParams(scales="auto", iterations=2))
    assert few == [((512, 512), 2)], "levels with no iteration are skipped"


def test_activation_units_count_what_the_cut_network_holds() -> None:
    assert activation_units(["block1_conv1"]) == 6 + 64
    assert activation_units(["block2_conv1"]) == 6 + 128 + 16 + 32
    assert activation_units(["block4_conv2", "block5_conv1"]) == pytest.approx(302.0)


def test_tiles_cover_the_level_with_overlap() -> None:
    corners = tile_grid((300, 700), (256, 256))
    ys, xs = sorted({y for y, _ in corners}), sorted({x for _, x in corners})
    assert ys[0] == xs[0] == 0 and ys[-1] + 256 == 300 and xs[-1] + 256 == 700
    assert all(b - a <= 256 - 64 for a, b in itertools.pairwise(xs)), "overlap >= 1/4"


def test_a_job_too_large_for_one_pass_is_planned_into_tiles_under_the_budget() -> None:
    params = JobParams(max_size=4096, scales="auto")
    unbounded = estimate_job_mb(params, (4096, 3072), [(512, 512)])
    tiled = plan(params, (4096, 3072), [(512, 512)], budget_mb=4000)
    assert tiled.fits and tiled.peak_mb <= 4000 < unbounded
    final = tiled.levels[-1]
    assert final.size == (4096, 3072) and final.tile is not None
    assert min(final.tile) >= MIN_TILE and tiled.levels[0].tile is None, "coarse: one pass"
    assert estimate_job_mb(params, (4096, 3072), [(512, 512)], budget_mb=4000) == tiled.peak_mb
    assert plan(params.model_copy(update={"optimizer": "lbfgs"}), (4096, 3072), [(512, 512)],
                budget_mb=4000).fits is False, "L-BFGS runs in one pass only"  # fmt: skip


def test_largest_fit_is_the_edge_of_what_fits() -> None:
    params = JobParams(max_size=4096, style_scale=2.0)
    content, styles, budget = (4096, 4096), [(4096, 4096)], 1500.0
    fit = largest_fit(params, content, styles, budget)
    assert fit is not None and fit.style_scale == 2.0
    fits = plan(params.model_copy(update={"max_size": fit.max_size}), content, styles,
                budget_mb=budget).fits  # fmt: skip
    over = plan(params.model_copy(update={"max_size": fit.max_size + 1}), content, styles,
                budget_mb=budget).fits  # fmt: skip
    assert fits and not over
    assert largest_fit(params, content, styles, budget_mb=50.0) is None, "below the fixed part"


def test_the_budget_is_the_setting_or_detected_from_ram_and_cgroup(tmp_path: Path) -> None:
    assert worker_budget_mb(Settings(worker_memory_mb=1234)) == 1234
    detected = worker_budget_mb(Settings())
    assert 0 < detected < ram_mb()
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8388608 kB\nMemFree: 1 kB\n")
    (tmp_path / "memory.max").write_text(f"{2 * 2**30}\n")
    assert ram_mb(meminfo, tmp_path) == 2048, "the container's limit when lower"
    (tmp_path / "memory.max").write_text("max\n")
    assert ram_mb(meminfo, tmp_path) == 8192
