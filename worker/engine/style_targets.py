"""What a job's loss compares against: the content's feature maps, and per style layer the
styles' blended statistics turned into the chosen style loss's target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from shared.params import JobParams
from worker.engine.gram_cache import GramCache
from worker.engine.losses import (
    PALETTE_POOL,
    laplacian,
    palette_projections,
    style_statistics,
)
from worker.engine.tiling import tiled_statistics

Statistics = list[tuple[Any, Any]]  # per style layer: (mean (C,), Gram matrix (C, C))


def gaussian_target(mean: Any, gram: Any) -> tuple[Any, Any, Any]:
    """(mean, covariance, its symmetric square root) for the Wasserstein style loss, from the
    blended mean and Gram matrix, once per level (in float32 through the backend: LAPACK via
    numpy, fighting the network's threads for the cores, took seconds per layer)."""
    mean = ops.convert_to_tensor(mean, "float32")
    cov = ops.convert_to_tensor(gram, "float32") - ops.outer(mean, mean)
    cov = (cov + ops.transpose(cov)) / 2.0
    eigenvalues, vectors = ops.eigh(cov)
    root = ops.matmul(vectors * ops.sqrt(ops.maximum(eigenvalues, 0.0)), ops.transpose(vectors))
    return mean, cov, root


def content_features(model: keras.Model, content: np.ndarray, n_content: int) -> list[Any]:
    """The content layers' float32 feature maps of ``content`` (H, W, 3)."""
    return [ops.cast(f, "float32") for f in model(content[None])[:n_content]]


def laplacian_target(content: np.ndarray, params: JobParams) -> Any | None:
    """The Laplacian loss's target, ``content``'s (H, W, 3) ``laplacian``; None when the job's
    ``laplacian_weight`` is 0 (the loss then leaves the term out)."""
    if params.laplacian_weight == 0:
        return None
    return laplacian(ops.convert_to_tensor(np.asarray(content, np.float32)[None]))


def _quantiles(projections: np.ndarray, count: int) -> np.ndarray:
    """(K, n) sorted projections resampled to (K, ``count``) at evenly spaced quantiles."""
    here = (np.arange(projections.shape[1]) + 0.5) / projections.shape[1]
    wanted = (np.arange(count) + 0.5) / count
    return np.stack([np.interp(wanted, here, row) for row in projections])


def palette_sources(styles: Sequence[np.ndarray], params: JobParams) -> list[np.ndarray] | None:
    """Each style's sorted ``palette_projections`` (K, its pooled pixels), once per level; None
    when ``palette_weight`` is 0."""
    if params.palette_weight == 0:
        return None
    return [
        ops.convert_to_numpy(palette_projections(np.asarray(style, np.float32)[None]))
        for style in styles
    ]


def palette_target(
    sources: list[np.ndarray] | None, region_hw: tuple[int, int], params: JobParams
) -> Any | None:
    """The palette loss's target for a region of ``region_hw`` px: the styles' pooled colours
    (``palette_sources``, each in proportion to its ``blend`` share) as sorted projections, one
    per pooled pixel of the region; None when there are no sources (the loss is off)."""
    if sources is None:
        return None
    count = (region_hw[0] // PALETTE_POOL) * (region_hw[1] // PALETTE_POOL)
    parts = [
        _quantiles(projections, max(1, round(share * count)))
        for share, projections in zip(blend(params, len(sources)), sources, strict=True)
    ]
    pooled = np.sort(np.concatenate(parts, axis=1), axis=1)
    return ops.convert_to_tensor(_quantiles(pooled, count).astype(np.float32))


def blend(params: JobParams, count: int) -> np.ndarray:
    """Each style's share of the target, summing to 1."""
    shares = np.asarray(params.style_blend or [1.0] * count, np.float32)
    return shares / shares.sum()


def blended_statistics(
    model: keras.Model,
    styles: Sequence[np.ndarray],
    params: JobParams,
    arithmetic: str,
    cache: GramCache,
    max_pixels: int | None = None,
) -> Statistics:
    """Per style layer the blend of the styles' (mean, Gram); each style's from ``cache`` when
    a job used it before, measured in tiles when it has more than ``max_pixels``."""
    n_content = len(params.content_layers)

    def measure(style: np.ndarray) -> Statistics:
        if max_pixels is None or style.shape[0] * style.shape[1] <= max_pixels:
            return [
                style_statistics(ops.cast(f, "float32")) for f in model(style[None])[n_content:]
            ]
        stats = tiled_statistics(
            lambda batch: model(batch)[n_content:],
            style,
            params.style_layers,
            max_pixels,
        )
        return [
            (
                ops.convert_to_tensor(m.astype(np.float32)),
                ops.convert_to_tensor(g.astype(np.float32)),
            )
            for m, g in stats
        ]

    blended: Statistics = [(0.0, 0.0)] * len(params.style_layers)
    for share, style in zip(blend(params, len(styles)), styles, strict=True):
        key = GramCache.key(
            style, tuple(params.style_layers), f"{arithmetic}/{params.edge_padding}"
        )
        stats = cache.get(key, lambda style=style: measure(style))
        blended = [
            (mean + float(share) * m, gram + float(share) * g)
            for (mean, gram), (m, g) in zip(blended, stats, strict=True)
        ]
    return blended


def loss_targets(stats: Statistics, params: JobParams) -> tuple[list[Any], Any]:
    """Per style layer the job's style loss target (its Gram matrix, or its mean, covariance and
    the covariance's square root), and the style layers' weights summing to 1."""
    if params.style_loss == "gram":
        targets = [gram for _, gram in stats]
    else:
        targets = [gaussian_target(mean, gram) for mean, gram in stats]
    weights = np.asarray(params.style_layer_weights or [1.0] * len(stats), np.float32)
    return targets, ops.convert_to_tensor(weights / weights.sum())
