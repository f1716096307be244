"""Did the style arrive? Style and content ratios of a finished picture, at the job's layers.

The yardstick is independent of the optimiser: plain (unweighted) Gatys losses of the picture
as it is saved (uint8, clipped), against the job's own targets, relative to two references.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from worker.engine import imaging
from worker.engine.hooks import Quality
from worker.engine.losses import content_loss, style_loss


def layer_losses(
    model: keras.Model, n_content: int, targets: tuple[list[Any], list[Any]], image: np.ndarray
) -> tuple[float, float]:
    """Unweighted mean (content, style) losses of ``image`` (H, W, 3) against ``targets``."""
    features = model(np.asarray(image, np.float32)[None])
    content_targets, style_targets = targets
    content = [
        content_loss(f, t) for f, t in zip(features[:n_content], content_targets, strict=True)
    ]
    style = [style_loss(f, t) for f, t in zip(features[n_content:], style_targets, strict=True)]
    return float(np.mean([float(v) for v in content])), float(np.mean([float(v) for v in style]))


@dataclass(frozen=True)
class References:
    """What a job's pictures are measured against, computed once per job."""

    style_of_content: float
    style_of_start: float
    content_of_styles: float
    pass_s: float  # the fastest of the forward passes that measured these: what one more costs


@dataclass(frozen=True)
class Meter:
    """A job's yardstick, its references measured: ``measure`` gives a picture's ratios in one
    forward pass, which should take about ``pass_s`` seconds."""

    measure: Callable[[np.ndarray], Quality]
    pass_s: float

    def __call__(self, picture: np.ndarray) -> Quality:
        return self.measure(picture)


def references(
    model: keras.Model,
    n_content: int,
    targets: tuple[list[Any], list[Any]],
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    blend: np.ndarray,
    start: np.ndarray,
) -> References:
    """The losses the ratios divide by, given the job's ``content``, ``styles`` (blend-weighted)
    and the ``start`` image the optimiser began from, all in the space the job optimised in."""
    passes: list[float] = []

    def timed(image: np.ndarray) -> tuple[float, float]:
        started = time.perf_counter()
        losses = layer_losses(model, n_content, targets, image)
        passes.append(time.perf_counter() - started)
        return losses

    _, style_of_content = timed(content)
    _, style_of_start = timed(start)
    content_of_styles = sum(
        float(share) * timed(imaging.resize(style, content.shape[:2]))[0]
        for share, style in zip(blend, styles, strict=True)
    )
    return References(style_of_content, style_of_start, content_of_styles, min(passes))


def ratios(
    model: keras.Model,
    n_content: int,
    targets: tuple[list[Any], list[Any]],
    picture: np.ndarray,
    refs: References,
) -> Quality:
    """The ratios of ``picture`` (one forward pass) against the job's ``refs``."""
    content_out, style_out = layer_losses(model, n_content, targets, picture)
    return Quality(
        style_ratio=style_out / max(refs.style_of_content, 1e-12),
        content_ratio=content_out / max(refs.content_of_styles, 1e-12),
        style_drop=1.0 - style_out / max(refs.style_of_start, 1e-12),
    )
