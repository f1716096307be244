"""Checks on a job's images and parameters, done before any model work starts."""

from __future__ import annotations

import numpy as np
from pydantic import ValidationError

from shared.params import JobParams
from worker.engine.errors import EngineInputError


def check_image(image: object, name: str) -> np.ndarray:
    """``image`` as an (H, W, 3) uint8 array with pixels, else EngineInputError naming it."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[-1] != 3:
        shape = getattr(image, "shape", None)
        raise EngineInputError(f"{name} must be an RGB image array (H, W, 3); got shape {shape}")
    if image.size == 0:
        raise EngineInputError(f"{name} is empty ({image.shape[1]}x{image.shape[0]} pixels)")
    if image.dtype != np.uint8:
        raise EngineInputError(f"{name} must be RGB uint8; got {image.dtype}")
    return image


def check_job(
    content: object, styles: object, params: JobParams
) -> tuple[np.ndarray, list[np.ndarray], JobParams]:
    """Validate a run's inputs; return them, the parameters re-validated by the schema."""
    try:
        params = JobParams.model_validate(params.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "params"
        raise EngineInputError(f"{field}: {first['msg']}") from None
    content = check_image(content, "content image")
    if not isinstance(styles, list | tuple) or not styles:
        raise EngineInputError("give at least one style image")
    styles = [check_image(style, f"style image {n}") for n, style in enumerate(styles, 1)]
    try:
        params.check_style_count(len(styles))
    except ValueError as exc:
        raise EngineInputError(str(exc)) from None
    return content, styles, params
