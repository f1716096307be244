"""The chroma gamut: a polygon around the inputs' chroma, and the projection into it."""

from __future__ import annotations

import numpy as np
from keras import ops

from worker.engine.gamut import RGB_TO_YCC, chroma, gamut, keep_in_gamut, unlimited


def kept(pixels: list[tuple[float, float, float]], limits: tuple[np.ndarray, ...]) -> np.ndarray:
    image = np.asarray(pixels, np.float32)[None]
    return np.asarray(ops.convert_to_numpy(keep_in_gamut(image, limits)))[0]


def luma(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, np.float32) @ RGB_TO_YCC[0]


def test_a_colour_opposite_the_inputs_is_taken_out_and_theirs_kept() -> None:
    """A mostly grey photo with a red cup: its red stays reachable; cyan with half the red's
    chroma (inside an ellipse about the inputs' mean, which lies near grey) is moved to the
    grey side, its luma kept."""
    photo = np.full((20, 20, 3), 120, np.uint8)
    photo[:2] = (200, 40, 40)  # a tenth of the pixels
    limits = gamut([photo])
    red, grey = np.array([200.0, 40.0, 40.0]), np.array([120.0, 120.0, 120.0])
    cyan = grey - (red - grey) / 2
    out = kept([tuple(red), tuple(cyan), tuple(grey)], limits)
    np.testing.assert_allclose(out[0], red, atol=0.5)
    np.testing.assert_allclose(out[2], grey, atol=0.5)
    np.testing.assert_allclose(luma(out[1:2]), luma(cyan[None]), atol=0.5)
    # near grey (Cb, Cr = 0): of the cyan's chroma, only the polygon's widening is left
    assert np.linalg.norm(chroma(out[1:2])) < 0.1 * np.linalg.norm(chroma(cyan[None]))


def test_grey_inputs_keep_the_picture_grey_and_unlimited_keeps_everything() -> None:
    grey = np.full((8, 8, 3), 90, np.uint8)
    colours = [(250.0, 10.0, 10.0), (10.0, 250.0, 10.0), (30.0, 30.0, 220.0)]
    out = kept(colours, gamut([grey, grey]))
    assert np.abs(chroma(out)).max() < 0.05
    np.testing.assert_allclose(kept(colours, unlimited()), colours, atol=1e-3)


def test_every_input_pixel_but_the_percentile_tail_stays_where_it_is() -> None:
    rng = np.random.default_rng(0)
    photo = rng.normal(128, 30, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    pixels = photo.reshape(-1, 3).astype(np.float32)
    moved = np.abs(kept([tuple(p) for p in pixels], gamut([photo])) - pixels).max(axis=1) > 0.01
    assert moved.mean() < 0.03
