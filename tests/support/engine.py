"""Engine test helpers: sample pictures from examples/ and quick parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.images import read_image
from shared.params import JobParams
from worker.engine.imaging import resize, to_uint8

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def sample(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """An examples/ picture (``name`` without .jpg, or with its extension) as RGB uint8, resized
    to ``size`` = (h, w) when given."""
    image = read_image(str(EXAMPLES / (name if "." in name else f"{name}.jpg")))
    return image if size is None else to_uint8(resize(image, size))


def quick(**changes: object) -> JobParams:
    """Parameters for a fast run on 32-48 px images."""
    return JobParams(**{"max_size": 48, "iterations": 6, "preview_every": 0, **changes})
