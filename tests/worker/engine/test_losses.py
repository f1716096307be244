"""The losses against plain numpy versions of the formulas."""

from __future__ import annotations

import numpy as np
from keras import ops

from worker.engine.losses import content_loss, gram_matrix, style_loss, total_variation_loss

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
