"""The picture's colours come from its inputs: every pixel's chroma is kept inside the region
that the content's and the styles' chroma occupy.

Chroma is a pixel's (Cb, Cr) in full-range BT.601 YCbCr. The region is an ellipse: the
inputs' chroma mean and covariance, out to the 99.5th percentile of their own (Mahalanobis)
distance. After each optimiser step a pixel outside it is moved, luma kept, to its edge along
the line to the centre, as the step is followed by the clip to [0, 255]: blotches of colours
that neither input has (a green cast on a grey-and-brown pair, the rainbow spots VGG16 paints
into grey styles) cannot form, while every colour the inputs have stays reachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from keras import ops

PERCENTILE = 99.5
# Pixels per image the ellipse is fitted to, at most: a fixed random sample (the same for the
# same size), so a print-sized job spends milliseconds here and not most of a second before its
# first iteration; 65,536 points put ~330 beyond the percentile.
SAMPLES = 1 << 16
MIN_VARIANCE = 4.0  # (chroma units)²: two grey inputs still allow a little tint
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
    """(centre (2,), whitening (2, 2), its inverse (2, 2), radius (1,)) of the ellipse that
    holds the chroma of ``images`` (RGB, 0-255), as float32 arrays for ``keep_in_gamut``."""
    points = np.concatenate([chroma(image) for image in images]).astype(np.float64)
    centre = points.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(points.T) + MIN_VARIANCE * np.eye(2))
    whiten = (vectors / np.sqrt(values)) @ vectors.T
    unwhiten = (vectors * np.sqrt(values)) @ vectors.T
    radius = np.percentile(np.linalg.norm((points - centre) @ whiten, axis=1), PERCENTILE)
    return tuple(np.asarray(x, np.float32) for x in (centre, whiten, unwhiten, [radius]))


def unlimited() -> tuple[np.ndarray, ...]:
    """A gamut that holds every colour."""
    eye = np.eye(2, dtype=np.float32)
    return np.zeros(2, np.float32), eye, eye, np.array([1e9], np.float32)


def keep_in_gamut(image: Any, limits: Any) -> Any:
    """``image`` (..., 3, RGB) with each pixel's chroma moved inside ``limits`` (``gamut``'s),
    its luma kept; keras.ops, so it runs inside the compiled step."""
    centre, whiten, unwhiten, radius = limits
    ycc = ops.matmul(image, ops.convert_to_tensor(RGB_TO_YCC.T))
    z = ops.matmul(ycc[..., 1:] - centre, whiten)
    distance = ops.sqrt(ops.sum(ops.square(z), axis=-1, keepdims=True))
    z = z * ops.minimum(1.0, radius / ops.maximum(distance, 1e-6))
    ycc = ops.concatenate([ycc[..., :1], ops.matmul(z, unwhiten) + centre], axis=-1)
    return ops.matmul(ycc, ops.convert_to_tensor(YCC_TO_RGB.T))
