"""Pictures too large for one pass: a level refined in overlapping tiles, and forward-only
statistics gathered tile by tile.

A tiled level keeps the whole picture, Adam's moments and the averaged picture on the host.
Each iteration computes every tile's gradient against the same targets (the style's statistics,
the content's features of that tile), blends them into one gradient field with windows that
fall to zero at a tile's inner edges and sum to one everywhere (so a tile's border, where
VGG16 sees its zero padding, never decides a pixel), and takes one Adam step for the whole
picture. The tiles' grid is fixed, the windows overlap by a quarter of a tile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from keras import ops

from shared.memory_model import HALO, overlap, tile_grid
from worker.engine.gamut import keep_in_gamut, unlimited
from worker.engine.losses import style_statistics
from worker.engine.optimize import ADAM_BETAS, ADAM_EPSILON, AdamState, Hook, LevelResult
from worker.engine.vgg import layer_stride

# The coarsest VGG16 feature grid (block5: 16 px); forward tiles start on it so that their
# features line up with the whole image's.
FEATURE_STRIDE = layer_stride("block5_conv1")
GAMUT_ROWS = 256


def windows(
    size: tuple[int, int], tile: tuple[int, int], corners: Sequence[tuple[int, int]]
) -> list[np.ndarray]:
    """Each tile's (h, w, 1) blending weights: a linear ramp over the overlap at every edge
    that is not the picture's, normalised so that the tiles' weights sum to 1 at each pixel."""
    raw = []
    for y, x in corners:
        ramps = []
        for start, side, length in ((y, tile[0], size[0]), (x, tile[1], size[1])):
            ramp = np.ones(side, np.float32)
            fade = min(overlap(side), side // 2)
            rise = (np.arange(fade, dtype=np.float32) + 0.5) / fade
            if start > 0:
                ramp[:fade] = rise
            if start + side < length:
                ramp[-fade:] = np.minimum(ramp[-fade:], rise[::-1])
            ramps.append(ramp)
        raw.append(np.outer(*ramps)[..., None])
    total = np.zeros((*size, 1), np.float32)
    for (y, x), weight in zip(corners, raw, strict=True):
        total[y : y + tile[0], x : x + tile[1]] += weight
    return [
        weight / total[y : y + tile[0], x : x + tile[1]]
        for (y, x), weight in zip(corners, raw, strict=True)
    ]


def run_tiled_adam(
    gradient: Callable[..., Any],
    state: Any,
    image: np.ndarray,
    tile: tuple[int, int],
    tile_targets: Callable[[int, int], Any],
    loss_weights: Any,
    iterations: int,
    learning_rate: float,
    hook: Hook,
    average_decay: float,
    adam: AdamState | None,
    limits: tuple[np.ndarray, ...] | None = None,
) -> tuple[LevelResult, AdamState]:
    """``iterations`` Adam steps on ``image`` (1, H, W, 3), each from the blended gradients of
    its tiles, each pixel's chroma kept in the gamut ``limits`` (None: any);
    ``tile_targets(y, x)`` is the loss's
    targets for the tile at (y, x)."""
    picture = image[0].copy()
    limits = limits or unlimited()
    size = picture.shape[:2]
    corners = tile_grid(size, tile)
    blend = windows(size, tile, corners)
    targets = [tile_targets(y, x) for y, x in corners]
    adam = adam or AdamState.fresh(image.shape)
    m, v, t = adam.m[0].copy(), adam.v[0].copy(), adam.t
    average = np.zeros_like(picture)
    scratch = np.empty_like(picture)  # the update's one temporary: host memory stays bounded
    initial, losses, stopped, done = None, (None, None), None, 0
    while done < iterations and stopped is None:
        field = np.zeros_like(picture)
        totals, parts = [], []
        for (y, x), weight, target in zip(corners, blend, targets, strict=True):
            region = (slice(y, y + tile[0]), slice(x, x + tile[1]))
            total, part, grad = gradient(state, picture[region][None], target, loss_weights)
            field[region] += weight * ops.convert_to_numpy(grad)[0]
            totals.append(float(total))
            parts.append(ops.convert_to_numpy(part))
        t += 1.0
        adam_update(picture, field, m, v, t, learning_rate, scratch)
        del field
        for top in range(0, size[0], GAMUT_ROWS):  # in bands: the projection's temporaries
            band = picture[top : top + GAMUT_ROWS]  # are a band's, not the picture's
            band[...] = np.clip(ops.convert_to_numpy(keep_in_gamut(band, limits)), 0.0, 255.0)
        average *= average_decay
        np.multiply(picture, 1.0 - average_decay, out=scratch)
        average += scratch
        done += 1
        losses = (np.float32(np.mean(totals)), np.mean(parts, axis=0))
        initial = initial or losses
        scale = np.float32(1.0 - average_decay**done)
        stopped = hook(losses, lambda average=average, scale=scale: (average / scale)[None])
    result = (average / np.float32(1.0 - average_decay**done))[None]
    assert initial is not None
    return (LevelResult(result, losses, initial, done, stopped), AdamState(m[None], v[None], t))


def adam_update(
    picture: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: float,
    learning_rate: float,
    scratch: np.ndarray,
) -> None:
    """One bias-corrected Adam step on ``picture`` in place (the compiled step's, on the host),
    with ``scratch`` as the only temporary."""
    beta1, beta2 = ADAM_BETAS
    m *= beta1
    np.multiply(grad, 1.0 - beta1, out=scratch)
    m += scratch
    v *= beta2
    np.square(grad, out=scratch)
    scratch *= 1.0 - beta2
    v += scratch
    np.divide(v, 1.0 - beta2**t, out=scratch)
    np.sqrt(scratch, out=scratch)
    scratch += ADAM_EPSILON
    np.divide(m, scratch, out=scratch)
    scratch *= learning_rate / (1.0 - beta1**t)
    picture -= scratch


def tiled_statistics(
    features: Callable[[np.ndarray], Sequence[Any]],
    image: np.ndarray,
    layers: Sequence[str],
    max_pixels: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per layer (mean, Gram matrix) of ``image``'s (H, W, 3) features, ``features(batch)``
    returning the maps at ``layers`` (any float dtype); in tiles of at most ``max_pixels`` (a
    HALO of context around each core, cropped away) when the whole image would not fit.

    Each tile's statistics are taken on the device, layer by layer, and each map is dropped
    once measured: the host holds only the (C,) and (C, C) totals, never a copy of a map
    (float64 copies of a 1000 px tile's maps took 1.5 GB more than the pass itself)."""
    height, width = image.shape[:2]
    core = max(FEATURE_STRIDE, int(np.sqrt(max_pixels)) - 2 * HALO)
    core -= core % FEATURE_STRIDE
    if height * width <= max_pixels:
        core = max(height, width)
    sums: list[tuple[Any, Any]] = [(0.0, 0.0)] * len(layers)
    counts = [0] * len(layers)
    for y0 in range(0, height, core):
        for x0 in range(0, width, core):
            top, left = max(0, y0 - HALO), max(0, x0 - HALO)
            bottom, right = min(height, y0 + core + HALO), min(width, x0 + core + HALO)
            maps = list(features(image[None, top:bottom, left:right]))
            for n, name in enumerate(layers):
                s = layer_stride(name)
                # a core ends on the feature grid, or at the picture's edge, where a pooling
                # that keeps an odd map's last row has one more, partial, feature (ceil)
                rows = slice((y0 - top) // s, -(-(min(height, y0 + core) - top) // s))
                columns = slice((x0 - left) // s, -(-(min(width, x0 + core) - left) // s))
                cropped = ops.cast(maps[n][:, rows, columns], "float32")
                maps[n] = None  # measured: freed before the next layer's copy
                positions = int(cropped.shape[1]) * int(cropped.shape[2])
                if positions == 0:  # a core narrower than this layer's stride: no feature
                    continue
                mean, gram = (
                    ops.convert_to_numpy(x).astype(np.float64) for x in style_statistics(cropped)
                )
                sums[n] = (sums[n][0] + positions * mean, sums[n][1] + positions * gram)
                counts[n] += positions
    return [(total[0] / count, total[1] / count) for total, count in zip(sums, counts, strict=True)]
