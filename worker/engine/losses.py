"""The Gatys et al. losses as pure keras.ops functions, checkable against the paper."""

from __future__ import annotations

from collections.abc import Sequence

from keras import ops


def gram_matrix(features):  # type: ignore[no-untyped-def]
    """Channel correlations of (1, H, W, C) features, normalised by H·W: shape (C, C)."""
    channels = ops.shape(features)[-1]
    flat = ops.reshape(features, (-1, channels))
    positions = ops.cast(ops.shape(flat)[0], features.dtype)
    return ops.matmul(ops.transpose(flat), flat) / positions


def content_loss(features, target):  # type: ignore[no-untyped-def]
    """Mean squared difference of feature maps."""
    return ops.mean(ops.square(features - target))


def style_loss(features, target_gram):  # type: ignore[no-untyped-def]
    """Mean squared difference of Gram matrices."""
    return ops.mean(ops.square(gram_matrix(features) - target_gram))


def total_variation_loss(image):  # type: ignore[no-untyped-def]
    """Mean squared difference of neighbouring pixels (in [0, 255] units), both directions."""
    down = ops.mean(ops.square(image[:, 1:, :, :] - image[:, :-1, :, :]))
    right = ops.mean(ops.square(image[:, :, 1:, :] - image[:, :, :-1, :]))
    return down + right


def objective(outputs: Sequence, image, targets, weights, n_content: int):  # type: ignore[no-untyped-def]
    """Weighted total and its parts for one evaluation.

    ``outputs``: feature maps, content layers first, then style layers.
    ``targets``: (content feature maps, style Gram matrices), computed once per job.
    ``weights``: vector [content_weight, style_weight, tv_weight, ...] (further entries are
    the optimiser's); style layers weigh equally.
    """
    content_targets, style_targets = targets
    outputs = [ops.cast(features, "float32") for features in outputs]  # bfloat16 networks
    content = sum(
        content_loss(f, t) for f, t in zip(outputs[:n_content], content_targets, strict=True)
    ) / len(content_targets)
    style = sum(
        style_loss(f, t) for f, t in zip(outputs[n_content:], style_targets, strict=True)
    ) / len(style_targets)
    tv = total_variation_loss(image)
    total = weights[0] * content + weights[1] * style + weights[2] * tv
    return total, ops.stack([weights[0] * content, weights[1] * style, weights[2] * tv])
