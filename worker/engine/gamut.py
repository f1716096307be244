"""The picture's colours come from its inputs: every pixel's chroma is kept inside the region
that the content's and the styles' chroma occupy.

Chroma is a pixel's (Cb, Cr) in full-range BT.601 YCbCr. The region is a convex polygon
around the inputs' chroma: in each of ``DIRECTIONS`` evenly spaced directions from the inputs'
mean chroma, a half-plane out to the 99.9th percentile of their extent that way, times
``WIDEN`` (a little room beyond the inputs' extreme colours for the fine texture, none around
grey inputs). After each optimiser step a pixel outside it is moved, luma
kept, to its edge along the line to the centre, as the step is followed by the clip to
[0, 255]: blotches of colours that neither input has (a green cast on a grey-and-brown pair,
the rainbow spots VGG16 paints into grey styles, a cyan fringe on a red rim) cannot form, while
every colour the inputs have stays reachable. (An ellipse, the region until 2026-12-06, is
symmetric about the mean: it held as much cyan as the photo had red.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from keras import ops

PERCENTILE = 99.9
DIRECTIONS = 32
WIDEN = 1.25
# Pixels per image the polygon is fitted to, at most: a fixed random sample (the same for the
# same size), so a print-sized job spends milliseconds here and not most of a second before its
# first iteration; 65,536 points put ~66 beyond each direction's percentile.
SAMPLES = 1 << 16
# The least extent in any direction, in chroma units: never 0, so that a point on the
# polygon's inner side of a direction is never held by it (a negligible tint).
MIN_EXTENT = 0.01
RGB_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32
)
YCC_TO_RGB = np.linalg.inv(RGB_TO_YCC).astype(np.float32)


def chroma(image: np.ndarray) -> np.ndarray:
    """(N, 2) chroma (Cb, Cr) of the pixels of ``image`` (a fixed sample of a large one)."""
    pixels = np.asarray(image).reshape(-1, 3)
    if len(pixels) > SAMPLES:
        pixels = pixels[np.random.default_rng(0).integers(0, len(pixels), SAMPLES)]
    return (pixels.astype(np.float32) @ RGB_TO_YCC.T)[:, 1:]


def gamut(images: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(centre (2,), unit normals (2, DIRECTIONS), extents (DIRECTIONS,)) of the polygon that
    holds the chroma of ``images`` (RGB, 0-255), as float32 arrays for ``keep_in_gamut``."""
    points = np.concatenate([chroma(image) for image in images]).astype(np.float64)
    centre = points.mean(axis=0)
    angles = np.arange(DIRECTIONS) * (2 * np.pi / DIRECTIONS)
    normals = np.stack([np.cos(angles), np.sin(angles)])
    extents = np.percentile((points - centre) @ normals, PERCENTILE, axis=0)
    extents = np.maximum(WIDEN * extents, MIN_EXTENT)
    return tuple(np.asarray(x, np.float32) for x in (centre, normals, extents))


def unlimited() -> tuple[np.ndarray, ...]:
    """A gamut that holds every colour."""
    normals = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]], np.float32)
    return np.zeros(2, np.float32), normals, np.full(4, 1e9, np.float32)


def keep_in_gamut(image: Any, limits: Any) -> Any:
    """``image`` (..., 3, RGB) with each pixel's chroma moved inside ``limits`` (``gamut``'s)
    towards the centre, its luma kept; keras.ops, so it runs inside the compiled step."""
    centre, normals, extents = limits
    ycc = ops.matmul(image, ops.convert_to_tensor(RGB_TO_YCC.T))
    offset = ycc[..., 1:] - centre
    reach = ops.matmul(offset, normals)  # how far out along each direction
    scale = ops.min(extents / ops.maximum(reach, 1e-5), axis=-1, keepdims=True)
    ycc = ops.concatenate([ycc[..., :1], offset * ops.minimum(1.0, scale) + centre], axis=-1)
    return ops.matmul(ycc, ops.convert_to_tensor(YCC_TO_RGB.T))
