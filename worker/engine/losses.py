"""The losses as pure keras.ops functions, checkable against the formulas.

Two style losses: Gatys et al.'s Gram matrices (``gram``) and the Wasserstein-2 distance
between Gaussians fitted to the features (``wasserstein``: mean and covariance, as
crowsonkb/style-transfer-pytorch does).
"""

from __future__ import annotations

from collections.abc import Sequence

from keras import ops

# Eigenvalues below this are treated as this in the matrix square root (features are in
# VGG16's Caffe units, where covariance eigenvalues reach 1e4-1e6).
SQRT_EPS = 1e-6


def gram_matrix(features):  # type: ignore[no-untyped-def]
    """Channel correlations of (1, H, W, C) features, normalised by H·W: shape (C, C)."""
    channels = ops.shape(features)[-1]
    flat = ops.reshape(features, (-1, channels))
    positions = ops.cast(ops.shape(flat)[0], features.dtype)
    return ops.matmul(ops.transpose(flat), flat) / positions


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
    """tr(√M) of a symmetric positive semi-definite M, with the stable gradient ½·M^(-½)
    (eigenvalues floored at SQRT_EPS)."""
    eigenvalues, vectors = ops.eigh(matrix)
    roots = ops.sqrt(ops.maximum(eigenvalues, SQRT_EPS))

    def grad(*args, upstream=None):  # type: ignore[no-untyped-def]
        if upstream is None:
            (upstream,) = args
        return upstream * ops.matmul(vectors * (0.5 / roots), ops.transpose(vectors))

    return ops.sum(roots), grad


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
    positions = features.shape[1] * features.shape[2]
    mean, cov = mean_and_covariance(features)
    if positions < channels:
        flat = ops.reshape(features, (-1, channels)) - mean
        scaled = ops.matmul(flat, target_cov_sqrt) / ops.sqrt(ops.cast(positions, flat.dtype))
        cross = ops.matmul(scaled, ops.transpose(scaled))  # N x N, shares Σₛ^½ Σ Σₛ^½'s roots
    else:
        cross = ops.matmul(ops.matmul(target_cov_sqrt, cov), target_cov_sqrt)
    cov_term = ops.trace(target_cov) + ops.trace(cov) - 2.0 * trace_sqrtm(cross)
    return ops.mean(ops.square(mean - target_mean)) + cov_term / channels


def total_variation_loss(image):  # type: ignore[no-untyped-def]
    """Mean squared difference of neighbouring pixels (in [0, 255] units), both directions."""
    down = ops.mean(ops.square(image[:, 1:, :, :] - image[:, :-1, :, :]))
    right = ops.mean(ops.square(image[:, :, 1:, :] - image[:, :, :-1, :]))
    return down + right


STYLE_LOSSES = {"gram": style_loss, "wasserstein": wasserstein_style_loss}


def objective(outputs: Sequence, image, targets, weights, n_content: int,  # type: ignore[no-untyped-def]
              kind: str = "gram"):  # fmt: skip
    """Weighted total and its parts for one evaluation.

    ``outputs``: feature maps, content layers first, then style layers.
    ``targets``: (content feature maps, per-layer style targets, style layer weights summing
    to 1), computed once per job and level; a style target is a Gram matrix (``kind="gram"``)
    or (mean, covariance, its square root) (``kind="wasserstein"``).
    ``weights``: vector [content_weight, style_weight, tv_weight, ...] (further entries are
    the optimiser's).
    """
    content_targets, style_targets, layer_weights = targets
    layer_loss = STYLE_LOSSES[kind]
    outputs = [ops.cast(features, "float32") for features in outputs]  # bfloat16 networks
    content = sum(
        content_loss(f, t) for f, t in zip(outputs[:n_content], content_targets, strict=True)
    ) / len(content_targets)
    style = sum(
        layer_weights[n] * layer_loss(f, t)
        for n, (f, t) in enumerate(zip(outputs[n_content:], style_targets, strict=True))
    )
    tv = total_variation_loss(image)
    total = weights[0] * content + weights[1] * style + weights[2] * tv
    return total, ops.stack([weights[0] * content, weights[1] * style, weights[2] * tv])
