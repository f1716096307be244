"""The picture shifted against VGG16's grid, a new random shift every few steps, so that it is
fitted to every alignment of the network's strides rather than to one (docs/engine.md, "The
grid: a random shift every few steps").

The network sees the picture reflected ``margin`` px beyond its edges (edge pixels repeated,
as ``edge_padding=replicate`` repeats them) and cut to (H + margin, W + margin) at the shift:
the picture's top-left corner sits ``margin - shift`` px into what the network sees. The
content targets are the photo seen the same way, computed again for each new shift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

# Steps each shift is kept: each new shift costs one forward pass for the content targets.
HOLD = 5


def shifted_view(image: Any, shift: Any, margin: int) -> Any:
    """What the network sees of ``image`` (1, H, W, 3) at ``shift`` ((2,) int32 in [0,
    ``margin``]): (1, H + margin, W + margin, 3), in keras.ops (traced inside the step)."""
    pad = [[0, 0], [margin, margin], [margin, margin], [0, 0]]
    padded = ops.pad(image, pad, mode="symmetric")
    shape = ops.shape(image)
    start = [0, shift[0], shift[1], 0]
    return ops.slice(padded, start, [shape[0], shape[1] + margin, shape[2] + margin, shape[3]])


def shifted_region(region: np.ndarray, shift: np.ndarray, margin: int) -> np.ndarray:
    """``shifted_view`` of a (H, W, 3) array in numpy: the view of the photo whose features
    are the content targets while ``shift`` holds."""
    height, width = region.shape[:2]
    padded = np.pad(region, ((margin, margin), (margin, margin), (0, 0)), mode="symmetric")
    top, left = int(shift[0]), int(shift[1])
    return padded[top : top + height + margin, left : left + width + margin]


def per_step(
    targets: Callable[..., Any],
    content: np.ndarray,
    margin: int,
    seed: int,
    size: tuple[int, int],
) -> Callable[[int], Any]:
    """step -> the loss's targets at a level's step: ``targets(content, shift)`` for the shift
    that step holds (computed once per shift), or ``targets(content)`` every step when
    ``margin`` is 0. The shifts are drawn from the job's seed and the level's size: same seed,
    same picture."""
    if margin == 0:
        fixed = targets(content)
        return lambda step: fixed
    rng = np.random.default_rng([seed, *size])
    held: dict[int, Any] = {}

    def at(step: int) -> Any:
        if step // HOLD not in held:
            shift = rng.integers(0, margin + 1, 2).astype(np.int32)
            held.clear()  # one shift's content features at a time
            held[step // HOLD] = targets(content, shift)
        return held[step // HOLD]

    return at
