"""The losses as pure keras.ops functions, checkable against the formulas.

Two style losses: Gatys et al.'s Gram matrices (``gram``) and the Wasserstein-2 distance
between Gaussians fitted to the features (``wasserstein``: mean and covariance, as
crowsonkb/style-transfer-pytorch does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops

# Eigenvalues below this share of the largest are noise in float32 (a grey or black-and-white
# style's features have many such directions): they count as 0 and their directions get no
# gradient. Without it, the noise of those eigenvectors steered the picture:
# a grey photo and black spots came out in rainbow colours.
RELATIVE_FLOOR = 1e-5
# The Laplacian loss compares edges after average pooling by this factor (Li et al. 2017):
# the scale at which a face's shapes are read, coarser than the style's texture.
LAPLACIAN_POOL = 4
LAPLACIAN_KERNEL = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float32)
# The palette loss compares colour distributions after average pooling by this factor (a patch
# of colour, not a pixel's speck), along fixed RGB directions (``PALETTE_DIRECTIONS``).
PALETTE_POOL = 4


def _palette_directions() -> np.ndarray:
    """(3, 8) unit columns: grey, red-green, yellow-blue, and five from a fixed seed."""
    axes = np.array([[1, 1, 1], [1, -1, 0], [1, 1, -2]], np.float64)
    spread = np.random.default_rng(0).normal(size=(5, 3))
    directions = np.concatenate([axes, spread])
    return (directions / np.linalg.norm(directions, axis=1, keepdims=True)).T.astype(np.float32)


PALETTE_DIRECTIONS = _palette_directions()


def gram_matrix(features):  # type: ignore[no-untyped-def]
    """Channel correlations of (1, H, W, C) features, normalised by H·W: shape (C, C)."""
    channels = ops.shape(features)[-1]
    flat = ops.reshape(features, (-1, channels))
    positions = ops.cast(ops.shape(flat)[0], features.dtype)
    return ops.matmul(ops.transpose(flat), flat) / positions


def style_statistics(features):  # type: ignore[no-untyped-def]
    """(mean (C,), Gram matrix (C, C)) of (1, H, W, C) float32 features: both blend linearly
    across styles, and both style losses' targets follow from them."""
    channels = ops.shape(features)[-1]
    return ops.mean(ops.reshape(features, (-1, channels)), axis=0), gram_matrix(features)


def mean_and_covariance(features):  # type: ignore[no-untyped-def]
    """Per-channel mean (C,) and covariance (C, C) of (1, H, W, C) features over positions."""
    channels = ops.shape(features)[-1]
    flat = ops.reshape(features, (-1, channels))
    mean = ops.mean(flat, axis=0)
    centred = flat - mean
    positions = ops.cast(ops.shape(flat)[0], features.dtype)
    return mean, ops.matmul(ops.transpose(centred), centred) / positions


@ops.custom_gradient
def trace_sqrtm(matrix):  # type: ignore[no-untyped-def]
    """tr(√M) of a symmetric positive semi-definite M, with the stable gradient ½·M^(-½), over
    the eigenvalues above RELATIVE_FLOOR x the largest (the rest count as 0)."""
    eigenvalues, vectors = ops.eigh(matrix)
    floor = ops.maximum(ops.max(eigenvalues) * RELATIVE_FLOOR, 1e-12)
    resolved = ops.cast(eigenvalues > floor, eigenvalues.dtype)
    roots = ops.sqrt(ops.maximum(eigenvalues, floor))

    def grad(*args, upstream=None):  # type: ignore[no-untyped-def]
        if upstream is None:
            (upstream,) = args
        return upstream * ops.matmul(vectors * (0.5 * resolved / roots), ops.transpose(vectors))

    return ops.sum(roots * resolved), grad


def content_loss(features, target):  # type: ignore[no-untyped-def]
    """Mean squared difference of feature maps."""
    return ops.mean(ops.square(features - target))


def style_loss(features, target_gram):  # type: ignore[no-untyped-def]
    """Mean squared difference of Gram matrices."""
    return ops.mean(ops.square(gram_matrix(features) - target_gram))


def wasserstein_style_loss(features, target):  # type: ignore[no-untyped-def]
    """Squared Wasserstein-2 distance between Gaussians fitted to ``features`` and the style's,
    per channel: ``mean((μ - μₛ)²) + tr(Σ + Σₛ - 2(Σₛ^½ Σ Σₛ^½)^½) / C``.

    ``target`` is (μₛ, Σₛ, Σₛ^½), computed once per job and level. With fewer positions N than
    channels C (deep layers of small levels), the cross term's root is taken of the N x N
    matrix with the same non-zero eigenvalues: a much smaller eigendecomposition.
    """
    target_mean, target_cov, target_cov_sqrt = target
    channels = features.shape[-1]
    mean, cov = mean_and_covariance(features)

    def by_channels():  # type: ignore[no-untyped-def]
        return trace_sqrtm(ops.matmul(ops.matmul(target_cov_sqrt, cov), target_cov_sqrt))

    def by_positions():  # type: ignore[no-untyped-def]
        flat = ops.reshape(features, (-1, channels)) - mean
        positions = ops.cast(ops.shape(flat)[0], flat.dtype)
        scaled = ops.matmul(flat, target_cov_sqrt) / ops.sqrt(positions)
        return trace_sqrtm(ops.matmul(scaled, ops.transpose(scaled)))

    height, width = features.shape[1], features.shape[2]
    if height is not None and width is not None:  # a static shape: choose now
        root_trace = by_positions() if height * width < channels else by_channels()
    else:  # a shape-generic trace: choose per call
        positions = ops.shape(features)[1] * ops.shape(features)[2]
        root_trace = ops.cond(positions < channels, by_positions, by_channels)
    cov_term = ops.trace(target_cov) + ops.trace(cov) - 2.0 * root_trace
    return ops.mean(ops.square(mean - target_mean)) + cov_term / channels


def laplacian(image):  # type: ignore[no-untyped-def]
    """The 3x3 Laplacian of each channel of (1, H, W, 3) ``image`` average-pooled
    ``LAPLACIAN_POOL``x, at every pooled pixel, the edge ones with their own value repeated
    beyond the edge. (Zeros beyond it would hold the border pixels' values and leave a lighter
    frame; leaving the edge out entirely left the border pixels pinned by no term of their
    own, and the style drew a row of ticks along every edge.)"""
    pooled = ops.average_pool(image, LAPLACIAN_POOL, LAPLACIAN_POOL, padding="valid")
    pooled = ops.pad(pooled, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric")
    kernel = np.repeat(LAPLACIAN_KERNEL[:, :, None, None], 3, axis=2)  # depthwise (3, 3, 3, 1)
    return ops.depthwise_conv(pooled, ops.cast(kernel, pooled.dtype), padding="valid")


def laplacian_loss(image, target):  # type: ignore[no-untyped-def]
    """Mean squared difference of ``image``'s Laplacian (``laplacian``) and ``target``."""
    return ops.mean(ops.square(laplacian(image) - target))


def palette_projections(image):  # type: ignore[no-untyped-def]
    """(1, H, W, 3) ``image`` pooled ``PALETTE_POOL``x, each pooled pixel projected on every
    ``PALETTE_DIRECTIONS`` column and sorted: (K, pooled pixels), ascending."""
    pooled = ops.average_pool(image, PALETTE_POOL, PALETTE_POOL, padding="valid")
    projected = ops.matmul(ops.reshape(pooled, (-1, 3)), ops.convert_to_tensor(PALETTE_DIRECTIONS))
    return ops.sort(ops.transpose(projected), axis=-1)


def palette_loss(image, target):  # type: ignore[no-untyped-def]
    """Sliced Wasserstein-2 distance (squared, pixel units) between ``image``'s pooled colours
    (``palette_projections``) and ``target``'s sorted projections of the same shape."""
    return ops.mean(ops.square(palette_projections(image) - target))


def total_variation_loss(image):  # type: ignore[no-untyped-def]
    """Mean squared difference of neighbouring pixels (in [0, 255] units), both directions."""
    down = ops.mean(ops.square(image[:, 1:, :, :] - image[:, :-1, :, :]))
    right = ops.mean(ops.square(image[:, :, 1:, :] - image[:, :, :-1, :]))
    return down + right


STYLE_LOSSES = {"gram": style_loss, "wasserstein": wasserstein_style_loss}


def gram_of_target(target, kind: str):  # type: ignore[no-untyped-def]
    """The Gram matrix a style target of ``kind`` stands for: itself (``gram``), or from
    (mean, covariance, root) Σ + μμᵀ (``wasserstein``)."""
    if kind == "gram":
        return target
    mean, cov, _ = target
    return cov + ops.outer(mean, mean)


def objective(
    outputs: Sequence,
    image,
    targets,
    loss_weights,
    n_content: int,  # type: ignore[no-untyped-def]
    kind: str = "gram",
    gram_term: bool = False,
):
    """Weighted total and its parts for one evaluation.

    ``outputs``: feature maps, content layers first, then style layers.
    ``targets``: (content feature maps, per-layer style targets, style layer weights summing
    to 1, the content's ``laplacian`` or None, the styles' ``palette_projections`` or None),
    computed once per job and level; a style target is a Gram matrix (``kind="gram"``) or
    (mean, covariance, its square root) (``kind="wasserstein"``).
    ``loss_weights``: vector [content_weight, style_weight, tv_weight, range penalty,
    laplacian_weight, palette_weight, gram_weight] (``optimize.loss_weights``); the Laplacian
    loss, when its target is given, counts in the content part, the palette loss and (with
    ``gram_term``) the layers' Gram loss in the style part.
    """
    content_targets, style_targets, layer_weights, laplacian_target, palette_target = targets
    layer_loss = STYLE_LOSSES[kind]
    outputs = [ops.cast(features, "float32") for features in outputs]  # bfloat16 networks
    content = sum(
        content_loss(f, t) for f, t in zip(outputs[:n_content], content_targets, strict=True)
    ) / len(content_targets)
    layers = list(zip(outputs[n_content:], style_targets, strict=True))
    per_layer = [layer_loss(f, t) for f, t in layers]
    style = loss_weights[1] * sum(layer_weights[n] * loss for n, loss in enumerate(per_layer))
    tv = total_variation_loss(image)
    content = loss_weights[0] * content
    if laplacian_target is not None:
        content = content + loss_weights[4] * laplacian_loss(image, laplacian_target)
    if gram_term:  # with kind="gram" the layers' losses are already the Gram losses
        grams = (
            per_layer
            if kind == "gram"
            else [style_loss(f, gram_of_target(t, kind)) for f, t in layers]
        )
        style = style + loss_weights[6] * sum(layer_weights[n] * g for n, g in enumerate(grams))
    if palette_target is not None:
        style = style + loss_weights[5] * palette_loss(image, palette_target)
    total = content + style + loss_weights[2] * tv
    return total, ops.stack([content, style, loss_weights[2] * tv])
