"""The losses against plain numpy versions of the formulas."""

from __future__ import annotations

import numpy as np
from keras import ops

from shared.params import JobParams
from worker.engine.losses import (
    PALETTE_DIRECTIONS,
    content_loss,
    gram_matrix,
    laplacian,
    laplacian_loss,
    objective,
    palette_loss,
    style_loss,
    total_variation_loss,
    trace_sqrtm,
    wasserstein_style_loss,
)
from worker.engine.style_targets import (
    gaussian_target,
    palette_sources,
    palette_target,
    style_statistics,
)

RNG = np.random.default_rng(0)


def test_gram_matrix_is_channel_correlation_over_positions() -> None:
    features = RNG.normal(size=(1, 5, 7, 4)).astype(np.float32)
    flat = features.reshape(-1, 4)
    expected = flat.T @ flat / 35
    np.testing.assert_allclose(ops.convert_to_numpy(gram_matrix(features)), expected, rtol=1e-5)


def test_content_and_style_losses_are_zero_at_target_and_mse_elsewhere() -> None:
    a = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    b = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    assert float(content_loss(a, a)) == 0.0
    np.testing.assert_allclose(float(content_loss(a, b)), np.mean((a - b) ** 2), rtol=1e-5)
    assert float(style_loss(a, gram_matrix(a))) < 1e-10
    gram_b = ops.convert_to_numpy(gram_matrix(b))
    expected = np.mean((ops.convert_to_numpy(gram_matrix(a)) - gram_b) ** 2)
    np.testing.assert_allclose(float(style_loss(a, gram_b)), expected, rtol=1e-5)


def test_total_variation_is_zero_for_flat_and_counts_both_directions() -> None:
    assert float(total_variation_loss(np.full((1, 6, 6, 3), 7.0, np.float32))) == 0.0
    stripes = np.zeros((1, 4, 4, 3), np.float32)
    stripes[:, :, 1::2] = 2.0  # every horizontal neighbour differs by 2, vertical ones agree
    np.testing.assert_allclose(float(total_variation_loss(stripes)), 4.0)


def test_wasserstein_style_loss_is_the_gaussian_w2_distance() -> None:
    """mean((μ - μs)²) + tr(Σ + Σs - 2(Σs^½ Σ Σs^½)^½) / C, against scipy's matrix root."""
    from scipy.linalg import sqrtm

    features = RNG.normal(size=(1, 6, 5, 4)).astype(np.float32)
    style = (RNG.normal(size=(1, 7, 3, 4)) * 2 + 1).astype(np.float32)
    mean, gram = style_statistics(style)
    loss = float(wasserstein_style_loss(features, gaussian_target(mean, gram)))
    f, s = features.reshape(-1, 4).astype(np.float64), style.reshape(-1, 4).astype(np.float64)
    mu, mu_s = f.mean(axis=0), s.mean(axis=0)
    cov, cov_s = np.cov(f.T, bias=True), np.cov(s.T, bias=True)
    root = sqrtm(cov_s).real
    expected = (
        np.mean((mu - mu_s) ** 2) + np.trace(cov + cov_s - 2 * sqrtm(root @ cov @ root).real) / 4
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-3)
    at_target = float(wasserstein_style_loss(style, gaussian_target(mean, gram)))
    assert abs(at_target) < 1e-3 * expected


def test_trace_sqrtm_gradient_is_half_the_inverse_root() -> None:
    """d tr(√M) / dM = ½ M^(-½), checked by finite differences too."""
    a = RNG.normal(size=(20, 5))
    m = (a.T @ a / 20).astype(np.float64)

    def value(x: np.ndarray) -> float:
        return float(trace_sqrtm(ops.convert_to_tensor(x.astype(np.float32))))

    grad = ops.convert_to_numpy(backend_gradient(trace_sqrtm, m.astype(np.float32)))
    eigenvalues, vectors = np.linalg.eigh(m)
    np.testing.assert_allclose(
        grad, (vectors / (2 * np.sqrt(eigenvalues))) @ vectors.T, rtol=1e-3, atol=1e-4
    )
    step = np.zeros_like(m)
    step[1, 2] = step[2, 1] = 1e-3
    numeric = (value(m + step) - value(m - step)) / 2e-3
    np.testing.assert_allclose(numeric, 2 * grad[1, 2], rtol=2e-2)


def backend_gradient(fn, x: np.ndarray):  # type: ignore[no-untyped-def]
    """d fn / d x (``fn`` a scalar of one tensor) through the backend's differentiation."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(fn)(x)
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def test_layer_weights_weigh_the_style_layers() -> None:
    """The objective's style part is the weighted sum of the layers' losses."""
    a = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    b = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    grams = [ops.convert_to_numpy(gram_matrix(b))] * 2
    weights = np.array([0.0, 1.0, 0.0], np.float32)
    targets = ([a], grams, np.array([0.25, 0.75], np.float32), None, None)
    _, parts = objective([a, a, b], a, targets, weights, n_content=1)
    np.testing.assert_allclose(float(parts[1]), 0.25 * float(style_loss(a, grams[0])), rtol=1e-5)


def test_the_gram_term_adds_the_layers_gram_loss_to_the_style_part() -> None:
    """gram_term on: the style part gains gram_weight x the weighted Gram losses, with the
    Wasserstein targets' Gram matrices (Σ + μμᵀ) standing for the style's."""
    a = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    b = RNG.normal(1.0, 2.0, size=(1, 4, 4, 3)).astype(np.float32)
    target = gaussian_target(*style_statistics(b))
    layer_weights = np.array([0.25, 0.75], np.float32)
    targets = ([a], [target, target], layer_weights, None, None)
    weights = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5], np.float32)
    w2 = float(wasserstein_style_loss(a, target))
    gram = float(style_loss(a, gram_matrix(b)))
    assert gram > 0.1
    without = objective([a, a, a], a, targets, weights, 1, "wasserstein")
    with_it = objective([a, a, a], a, targets, weights, 1, "wasserstein", gram_term=True)
    np.testing.assert_allclose(float(without[1][1]), w2, rtol=1e-4)
    np.testing.assert_allclose(float(with_it[1][1]), w2 + 0.5 * gram, rtol=1e-4)
    grams = [ops.convert_to_numpy(gram_matrix(b))] * 2
    on_gram = objective(
        [a, a, a], a, ([a], grams, layer_weights, None, None), weights, 1, "gram", gram_term=True
    )
    np.testing.assert_allclose(float(on_gram[1][1]), 1.5 * gram, rtol=1e-4)


def test_wasserstein_with_fewer_positions_than_channels_takes_the_small_root() -> None:
    """3 x 2 positions, 8 channels: the N x N route gives the C x C formula's value."""
    from scipy.linalg import sqrtm

    features = RNG.normal(size=(1, 3, 2, 8)).astype(np.float32)
    style = (RNG.normal(size=(1, 9, 9, 8)) + 0.5).astype(np.float32)
    mean, gram = style_statistics(style)
    loss = float(wasserstein_style_loss(features, gaussian_target(mean, gram)))
    f, s = features.reshape(-1, 8).astype(np.float64), style.reshape(-1, 8).astype(np.float64)
    cov, cov_s = np.cov(f.T, bias=True), np.cov(s.T, bias=True)
    root = sqrtm(cov_s).real
    cross = sqrtm(root @ cov @ root)
    expected = np.mean((f.mean(0) - s.mean(0)) ** 2) + np.trace(cov + cov_s - 2 * cross.real) / 8
    np.testing.assert_allclose(loss, expected, rtol=1e-3)


def numpy_laplacian(image: np.ndarray) -> np.ndarray:
    """(1, H, W, C) -> 4x average-pooled, then each channel's 3x3 Laplacian at every pooled
    pixel, the edge pixels repeated beyond the edge."""
    _, h, w, c = image.shape
    p = image[:, : h // 4 * 4, : w // 4 * 4].reshape(1, h // 4, 4, w // 4, 4, c).mean((2, 4))
    p = np.pad(p, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    centre, up, down = p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1]
    return 4 * centre - up - down - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]


def test_laplacian_is_the_pooled_images_laplacian() -> None:
    image = RNG.uniform(0, 255, size=(1, 13, 18, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(laplacian(image)), numpy_laplacian(image), rtol=1e-4, atol=1e-3
    )


def test_the_laplacian_pins_every_pooled_pixel_the_edge_ones_included() -> None:
    """As a linear map of the pooled picture, the Laplacian loses only a constant: no pixel,
    at the edge or inside, can move without the loss seeing it (taken inside the edge only, the
    border's pixels had no term of their own, and the style drew ticks along every edge)."""
    h, w = 6, 7
    columns = []
    for n in range(h * w):
        pooled = np.zeros((h, w), np.float32)
        pooled.flat[n] = 1.0
        image = np.repeat(np.kron(pooled, np.ones((4, 4), np.float32))[None, :, :, None], 3, -1)
        columns.append(ops.convert_to_numpy(laplacian(image))[0, :, :, 0].ravel())
    linear_map = np.stack(columns, axis=1)
    assert linear_map.shape == (h * w, h * w)
    assert np.linalg.matrix_rank(linear_map) == h * w - 1
    np.testing.assert_allclose(linear_map @ np.ones(h * w), 0.0, atol=1e-5)


def test_the_laplacian_loss_counts_in_the_content_part_when_its_target_is_given() -> None:
    a = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    b = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    grams = [ops.convert_to_numpy(gram_matrix(a))]
    weights = np.array([1.0, 0.0, 0.0, 0.0, 0.5], np.float32)
    target = numpy_laplacian(b)
    expected = np.mean((numpy_laplacian(a) - target) ** 2)
    np.testing.assert_allclose(float(laplacian_loss(a, target)), expected, rtol=1e-4)
    without = objective([b, a], a, ([b], grams, np.ones(1, np.float32), None, None), weights, 1)
    with_it = objective([b, a], a, ([b], grams, np.ones(1, np.float32), target, None), weights, 1)
    assert float(without[1][0]) == 0.0  # the content maps match: only the Laplacian differs
    np.testing.assert_allclose(float(with_it[1][0]), 0.5 * expected, rtol=1e-4)
    np.testing.assert_allclose(float(with_it[0]), float(with_it[1][0]), rtol=1e-4)


def numpy_palette(image: np.ndarray) -> np.ndarray:
    """(1, H, W, 3) -> 4x average-pooled pixels projected on PALETTE_DIRECTIONS, sorted: (K, n)."""
    _, h, w, _ = image.shape
    p = image[:, : h // 4 * 4, : w // 4 * 4].reshape(1, h // 4, 4, w // 4, 4, 3).mean((2, 4))
    return np.sort((p.reshape(-1, 3) @ PALETTE_DIRECTIONS).T, axis=1)


def test_the_palette_loss_is_the_sliced_distance_of_the_pooled_colours() -> None:
    a = RNG.uniform(0, 255, size=(1, 13, 18, 3)).astype(np.float32)
    b = RNG.uniform(0, 255, size=(1, 13, 18, 3)).astype(np.float32)
    np.testing.assert_allclose(np.linalg.norm(PALETTE_DIRECTIONS, axis=0), 1.0, rtol=1e-6)
    expected = np.mean((numpy_palette(a) - numpy_palette(b)) ** 2)
    np.testing.assert_allclose(float(palette_loss(a, numpy_palette(b))), expected, rtol=1e-4)
    assert float(palette_loss(a, numpy_palette(a))) < 1e-6


def test_a_patch_of_a_rare_colour_costs_more_than_the_same_pixels_as_specks() -> None:
    """The style: grey with one yellow pixel in every 4x4 block (a speck, 1/16 of it). The
    same pixels as specks cost nothing; gathered into one patch they cost, and a picture with
    no yellow at all costs less than the patch."""
    style = np.full((32, 32, 3), 128.0, np.float32)
    style[::4, ::4] = (250.0, 220.0, 0.0)
    params = JobParams(palette_weight=1.0)
    target = palette_target(palette_sources([style], params), (32, 32), params)
    patch = np.full((32, 32, 3), 128.0, np.float32)
    patch[:8, :8] = (250.0, 220.0, 0.0)  # the same 64 yellow pixels, together
    plain = np.full((32, 32, 3), 128.0, np.float32)
    cost = {
        name: float(palette_loss(picture[None], target))
        for name, picture in {"specks": style, "patch": patch, "plain": plain}.items()
    }
    assert cost["specks"] < 1e-6 < cost["plain"] < cost["patch"]
    assert palette_sources([style], JobParams(palette_weight=0)) is None  # 0: off


def test_the_palette_target_takes_each_style_by_its_share() -> None:
    """Black and white styles blended 3:1: three quarters of the target's grey-axis
    quantiles are black's, one quarter white's, one per pooled pixel of the region."""
    black, white = np.zeros((16, 16, 3), np.float32), np.full((8, 24, 3), 255.0, np.float32)
    params = JobParams(palette_weight=1.0, style_blend=[3.0, 1.0])
    sources = palette_sources([black, white], params)
    target = ops.convert_to_numpy(palette_target(sources, (20, 40), params))
    assert target.shape == (8, 5 * 10)
    grey_axis = target[0]  # PALETTE_DIRECTIONS' first column is the grey axis
    assert np.allclose(grey_axis[:37], 0.0) and np.allclose(grey_axis[38:], 255.0 * 3**0.5)


def test_the_palette_loss_counts_in_the_style_part_when_its_target_is_given() -> None:
    a = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    b = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    grams = [ops.convert_to_numpy(gram_matrix(a))]
    weights = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.5], np.float32)
    target = numpy_palette(b)
    expected = np.mean((numpy_palette(a) - target) ** 2)
    without = objective([a, a], a, ([a], grams, np.ones(1, np.float32), None, None), weights, 1)
    with_it = objective([a, a], a, ([a], grams, np.ones(1, np.float32), None, target), weights, 1)
    assert float(without[0]) < 1e-3  # content and style match: only the palette differs
    np.testing.assert_allclose(float(with_it[1][1]), 0.5 * expected, rtol=1e-3, atol=1e-3)


def test_the_palette_loss_gradient_matches_finite_differences() -> None:
    """Through the sort, on both backends: one pixel's gradient against central differences."""
    image = RNG.uniform(0, 255, size=(1, 8, 12, 3)).astype(np.float32)
    target = numpy_palette(RNG.uniform(0, 255, size=(1, 8, 12, 3)).astype(np.float32))
    grad = ops.convert_to_numpy(backend_gradient(lambda x: palette_loss(x, target), image))
    step = np.zeros_like(image)
    step[0, 5, 6, 1] = 0.05
    numeric = (
        float(palette_loss(image + step, target)) - float(palette_loss(image - step, target))
    ) / 0.1
    np.testing.assert_allclose(grad[0, 5, 6, 1], numeric, rtol=2e-2)
    assert np.count_nonzero(grad) == grad.size  # every pixel of the pooled area is pulled
