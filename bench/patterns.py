"""Generated high-contrast styles: leopard-like black rosettes and blobs on a flat ground.

Styles with large near-black and near-white (or saturated) areas are where a box-bounded
optimiser stalls; the quality suite and its test need such a style, and none of the photos
in examples/ is one. ``python -m bench.patterns`` rewrites examples/style-spots.png.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from shared.images import encode_image

WHITE = (255, 255, 255)
SATURATED_YELLOW = (255, 220, 0)
INK = (0, 0, 0)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def spotted(size: int = 512, ground: tuple[int, int, int] = WHITE, seed: int = 0) -> np.ndarray:
    """A ``size``-px square RGB uint8 pattern: black broken rings and blobs on ``ground``."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = ground
    for _ in range(size * size // 900):
        centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        radius = rng.uniform(size / 60, size / 28)
        if rng.random() < 0.55:  # a rosette: a ring broken into arcs
            start = 0.0
            axes = (int(radius), int(radius * 0.8))
            while start < 360:
                span = rng.uniform(50, 110)
                cv2.ellipse(
                    image, centre, axes, 0, start, start + span, INK, max(2, int(radius / 3))
                )
                start += span + rng.uniform(20, 50)
        else:  # a solid blob
            axes = (int(radius * rng.uniform(0.4, 0.8)), int(radius * rng.uniform(0.3, 0.6)))
            cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, INK, -1)
    return image


if __name__ == "__main__":
    (EXAMPLES / "style-spots.png").write_bytes(encode_image(spotted(), "png"))
