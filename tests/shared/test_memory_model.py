"""The memory model: activation units, tiles, plans under a budget, the largest fit."""

from __future__ import annotations

import itertools

import pytest

from shared.levels import pass_pixels, work
from shared.memory_model import (
    MIN_TILE,
    activation_units,
    estimate_job_mb,
    largest_fit,
    plan,
    tile_grid,
)
from shared.params import JobParams


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
    tiled = plan(params, (4096, 3072), [(512, 512)], budget_mb=7500)
    assert tiled.fits and tiled.peak_mb <= 7500 < unbounded
    final = tiled.levels[-1]
    assert final.size == (4096, 3072) and final.tile is not None
    assert min(final.tile) >= MIN_TILE and tiled.levels[0].tile is None, "coarse: one pass"
    assert estimate_job_mb(params, (4096, 3072), [(512, 512)], budget_mb=7500) == tiled.peak_mb
    assert (
        plan(
            params.model_copy(update={"optimizer": "lbfgs"}),
            (4096, 3072),
            [(512, 512)],
            budget_mb=7500,
        ).fits
        is False
    ), "L-BFGS runs in one pass only"


def test_largest_fit_is_the_edge_of_what_fits() -> None:
    params = JobParams(max_size=4096, style_scale=2.0)
    content, styles, budget = (4096, 4096), [(4096, 4096)], 1500.0
    fit = largest_fit(params, content, styles, budget)
    assert fit is not None and fit.style_scale == 2.0
    fits = plan(
        params.model_copy(update={"max_size": fit.max_size}), content, styles, budget_mb=budget
    ).fits
    over = plan(
        params.model_copy(update={"max_size": fit.max_size + 1}), content, styles, budget_mb=budget
    ).fits
    assert fits and not over
    assert largest_fit(params, content, styles, budget_mb=50.0) is None, "below the fixed part"


def test_each_backend_is_planned_and_fitted_with_its_own_figures() -> None:
    params = JobParams(max_size=4096, style_scale=2.0)
    content, styles, budget = (4096, 4096), [(4096, 4096)], 2500.0

    def need(backend: str) -> float:
        return plan(params, content, styles, "float32", None, backend).peak_mb

    assert need("jax") > need("tensorflow"), "JAX's passes and compiled programs hold more"
    assert need("an unmeasured backend") == need("tensorflow")
    on_jax = largest_fit(params, content, styles, budget, "float32", "jax")
    on_tf = largest_fit(params, content, styles, budget, "float32", "tensorflow")
    assert on_jax is not None and on_tf is not None and on_jax.max_size < on_tf.max_size
    assert plan(
        params.model_copy(update={"max_size": on_jax.max_size}),
        content,
        styles,
        "float32",
        budget,
        "jax",
    ).fits


def test_mirror_margins_are_counted_in_every_pass() -> None:
    """edge_padding=mirror runs VGG16 on the picture and 16 px beyond each edge: a one-pass
    level costs its padded pixels, and tiles are chosen with their own margins counted."""
    content, styles = (512, 384), [(512, 512)]
    mirror = JobParams(max_size=512, edge_padding="mirror")
    replicate = JobParams(max_size=512, edge_padding="replicate")
    assert pass_pixels((384, 512), mirror) == 416 * 544
    assert pass_pixels((384, 512), replicate) == 384 * 512
    assert plan(mirror, content, styles).peak_mb > plan(replicate, content, styles).peak_mb
    budget = plan(replicate, content, styles).peak_mb * 0.8
    tiled = plan(mirror, content, styles, budget_mb=budget)
    assert tiled.fits and tiled.peak_mb <= budget and tiled.levels[-1].tile is not None
    forward = int(tiled.forward_pixels**0.5) + 2 * 16
    assert forward**2 <= plan(replicate, content, styles, budget_mb=budget).forward_pixels + 1


def test_grid_jitter_is_counted_in_untiled_adam_steps_only() -> None:
    """grid_jitter shows VGG16 the picture with that many px more each way, in the steps of an
    untiled Adam level: those cost their widened pixels; forward passes, tiles and L-BFGS do
    not."""
    content, styles = (512, 384), [(512, 512)]
    jittered = JobParams(max_size=512, grid_jitter=8)
    plain = JobParams(max_size=512)
    assert pass_pixels((384, 512), jittered, shifted=True) == 392 * 520
    assert pass_pixels((384, 512), jittered) == pass_pixels((384, 512), plain) == 384 * 512
    lbfgs = JobParams(max_size=512, grid_jitter=8, optimizer="lbfgs")
    assert pass_pixels((384, 512), lbfgs, shifted=True) == 384 * 512
    assert plan(jittered, content, styles).peak_mb > plan(plain, content, styles).peak_mb
    assert work(jittered) > work(plain)
