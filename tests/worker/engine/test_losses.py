"""The losses against plain numpy versions of the formulas."""

from __future__ import annotations

import numpy as np
from keras import ops

from worker.engine.losses import (
    content_loss,
    gram_matrix,
    laplacian,
    laplacian_loss,
    objective,
    style_loss,
    total_variation_loss,
    trace_sqrtm,
    wasserstein_style_loss,
)
from worker.engine.style_targets import gaussian_target, style_statistics

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

    grad = ops.convert_to_numpy(gradient_of_trace_sqrtm(m.astype(np.float32)))
    eigenvalues, vectors = np.linalg.eigh(m)
    np.testing.assert_allclose(
        grad, (vectors / (2 * np.sqrt(eigenvalues))) @ vectors.T, rtol=1e-3, atol=1e-4
    )
    step = np.zeros_like(m)
    step[1, 2] = step[2, 1] = 1e-3
    numeric = (value(m + step) - value(m - step)) / 2e-3
    np.testing.assert_allclose(numeric, 2 * grad[1, 2], rtol=2e-2)


def gradient_of_trace_sqrtm(matrix: np.ndarray):  # type: ignore[no-untyped-def]
    """d trace_sqrtm / d matrix through the backend's automatic differentiation."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(lambda x: trace_sqrtm(x))(matrix)
    import tensorflow as tf

    x = tf.constant(matrix)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = trace_sqrtm(x)
    return tape.gradient(y, x)


def test_layer_weights_weigh_the_style_layers() -> None:
    """The objective's style part is the weighted sum of the layers' losses."""
    a = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    b = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    grams = [ops.convert_to_numpy(gram_matrix(b))] * 2
    weights = np.array([0.0, 1.0, 0.0], np.float32)
    _, parts = objective(
        [a, a, b], a, ([a], grams, np.array([0.25, 0.75], np.float32), None), weights, n_content=1
    )
    np.testing.assert_allclose(float(parts[1]), 0.25 * float(style_loss(a, grams[0])), rtol=1e-5)


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
    """(1, H, W, C) -> 4x average-pooled, then each channel's 3x3 Laplacian inside the edge."""
    _, h, w, c = image.shape
    p = image[:, : h // 4 * 4, : w // 4 * 4].reshape(1, h // 4, 4, w // 4, 4, c).mean((2, 4))
    centre, up, down = p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1]
    return 4 * centre - up - down - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]


def test_laplacian_is_the_pooled_images_laplacian() -> None:
    image = RNG.uniform(0, 255, size=(1, 13, 18, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(laplacian(image)), numpy_laplacian(image), rtol=1e-4, atol=1e-3
    )


def test_the_laplacian_loss_counts_in_the_content_part_when_its_target_is_given() -> None:
    a = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    b = RNG.uniform(0, 255, size=(1, 16, 16, 3)).astype(np.float32)
    grams = [ops.convert_to_numpy(gram_matrix(a))]
    weights = np.array([1.0, 0.0, 0.0, 0.0, 0.5], np.float32)
    target = numpy_laplacian(b)
    expected = np.mean((numpy_laplacian(a) - target) ** 2)
    np.testing.assert_allclose(float(laplacian_loss(a, target)), expected, rtol=1e-4)
    without = objective([b, a], a, ([b], grams, np.ones(1, np.float32), None), weights, 1)
    with_it = objective([b, a], a, ([b], grams, np.ones(1, np.float32), target), weights, 1)
    assert float(without[1][0]) == 0.0  # the content maps match: only the Laplacian differs
    np.testing.assert_allclose(float(with_it[1][0]), 0.5 * expected, rtol=1e-4)
    np.testing.assert_allclose(float(with_it[0]), float(with_it[1][0]), rtol=1e-4)
