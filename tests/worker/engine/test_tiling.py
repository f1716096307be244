"""Tiles: blending windows, statistics gathered tile by tile, and a tiled run within a budget."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from shared.memory_model import HALO, tile_grid
from shared.params import JobParams
from worker.engine import StyleEngine
from worker.engine.style_targets import style_statistics
from worker.engine.tiling import tiled_statistics, windows

LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1"]


def test_windows_sum_to_one_and_fade_at_inner_tile_edges() -> None:
    size, tile = (200, 300), (128, 128)
    corners = tile_grid(size, tile)
    blend = windows(size, tile, corners)
    total = np.zeros((*size, 1), np.float32)
    for (y, x), weight in zip(corners, blend, strict=True):
        total[y : y + tile[0], x : x + tile[1]] += weight
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)
    (y, x), weight = corners[0], blend[0]
    assert (y, x) == (0, 0) and weight[0, 0, 0] == 1.0, "the picture's own edge keeps full weight"
    assert weight[64, -1, 0] < 0.05 and weight[-1, 64, 0] < 0.05, "inner edges fade out"


# mirror: slow on JAX (a trace per tile shape, 23 s), so the TensorFlow stage's alone
@pytest.mark.parametrize("edge", ["replicate", pytest.param("mirror", marks=pytest.mark.slow)])
def test_tiled_statistics_match_one_pass(random_engine: StyleEngine, edge: str) -> None:
    """Tiles with a HALO of context give the one-pass statistics (layers whose receptive field
    fits in the halo; the tiles' cores line up with the 16 px feature grid)."""
    params = JobParams(content_layers=["block1_conv1"], style_layers=LAYERS, edge_padding=edge)
    model = random_engine._feature_model(params, "float32")
    image = np.random.default_rng(0).uniform(0, 255, (150, 230, 3)).astype(np.float32)
    whole = [style_statistics(f) for f in model(image[None])[1:]]

    tiled = tiled_statistics(lambda batch: model(batch)[1:], image, LAYERS, (32 + 2 * HALO) ** 2)
    for (mean, gram), (tiled_mean, tiled_gram) in zip(whole, tiled, strict=True):
        np.testing.assert_allclose(tiled_mean, ops.convert_to_numpy(mean), rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(tiled_gram, ops.convert_to_numpy(gram), rtol=2e-3, atol=1e-2)


def test_the_host_adam_step_is_the_compiled_ones() -> None:
    """A tiled level's update on the host: bias-corrected Adam, in place."""
    from worker.engine.optimize import ADAM_BETAS, ADAM_EPSILON
    from worker.engine.tiling import adam_update

    rng = np.random.default_rng(1)
    picture, grad = rng.uniform(0, 255, (4, 5, 3)), rng.normal(size=(4, 5, 3))
    m, v = rng.normal(size=(4, 5, 3)), rng.uniform(0, 1, (4, 5, 3))
    b1, b2 = ADAM_BETAS
    m2, v2 = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad**2
    expected = picture - 10.0 * (m2 / (1 - b1**3)) / (np.sqrt(v2 / (1 - b2**3)) + ADAM_EPSILON)
    adam_update(picture, grad, m, v, 3.0, 10.0, np.empty_like(picture))
    np.testing.assert_allclose(picture, expected, rtol=1e-6)
    np.testing.assert_allclose(m, m2) and np.testing.assert_allclose(v, v2)
