"""The seam measure: a tiled picture's edge lines against the same job run untiled."""

from __future__ import annotations

import cv2
import numpy as np

from bench.style_metrics import seam_excess, seam_rank
from shared.memory_model import tile_grid

SIZE, TILE = (96, 96), (56, 56)


def texture(seed: int) -> np.ndarray:
    """One run's detail: blurred noise around 0 (two runs of a job differ in it, not in the
    photo's shapes)."""
    noise = np.random.default_rng(seed).normal(0, 60, (*SIZE, 3)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.2)


def photo() -> np.ndarray:
    """The shapes both runs share: a smooth gradient."""
    ramp = np.linspace(60, 190, SIZE[1], dtype=np.float32)
    return np.repeat(np.tile(ramp, (SIZE[0], 1))[..., None], 3, axis=2)


def as_image(picture: np.ndarray) -> np.ndarray:
    return np.clip(np.round(picture), 0, 255).astype(np.uint8)


def edges(corners: list[tuple[int, int]]) -> tuple[set[int], set[int]]:
    rows = {e - 1 for y, _ in corners for e in (y, y + TILE[0]) if 0 < e < SIZE[0]}
    columns = {e - 1 for _, x in corners for e in (x, x + TILE[1]) if 0 < e < SIZE[1]}
    return rows, columns


def test_a_tiled_run_like_the_untiled_one_has_no_seam() -> None:
    corners = tile_grid(SIZE, TILE)
    untiled, tiled = photo() + texture(0), photo() + texture(1)
    rank = seam_rank(as_image(tiled), as_image(untiled), corners, TILE)
    assert rank < 0.99
    assert abs(seam_excess(as_image(tiled), as_image(untiled), corners, TILE)) < 0.2


def test_what_both_runs_hold_along_the_edges_is_not_a_seam() -> None:
    corners = tile_grid(SIZE, TILE)
    rows, columns = edges(corners)
    shapes = photo()
    for row in rows:  # the photo has strong lines exactly where the tiles meet
        shapes[row + 1] = 255.0
    for column in columns:
        shapes[:, column + 1] = 0.0
    untiled, tiled = shapes + texture(0), shapes + texture(1)
    assert seam_rank(as_image(tiled), as_image(untiled), corners, TILE) < 0.99


def test_edge_lines_darkened_by_a_tenth_are_a_seam() -> None:
    corners = tile_grid(SIZE, TILE)
    rows, columns = edges(corners)
    untiled, tiled = photo() + texture(0), photo() + texture(1)
    seamed = tiled.copy()
    seamed[sorted(rows)] *= 0.9
    seamed[:, sorted(columns)] *= 0.9
    assert seam_rank(as_image(seamed), as_image(untiled), corners, TILE) >= 0.99
    assert seam_excess(as_image(seamed), as_image(untiled), corners, TILE) > 0.1
