"""Image preparation around the optimisation: sizes, pyramid, initial image, colour transfer."""

from __future__ import annotations

import cv2
import numpy as np


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (H, W) as float32: area filter to shrink, cubic to enlarge."""
    height, width = size
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(image.astype(np.float32), (width, height), interpolation=interpolation)
    return np.clip(resized, 0.0, 255.0)


def resize_field(field: np.ndarray, size: tuple[int, int], cubic: bool) -> np.ndarray:
    """Resize an (H, W, C) float32 array that is not a picture (no clipping): cubic or linear."""
    height, width = size
    interpolation = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return cv2.resize(field.astype(np.float32), (width, height), interpolation=interpolation)


def initial_image(init: str, content: np.ndarray, style: np.ndarray, seed: int) -> np.ndarray:
    """The starting image (float32 RGB in [0, 255]) of the content's size."""
    if init == "content":
        return content.copy()
    if init == "style":
        return resize(style, content.shape[:2])
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(127.5, 40.0, content.shape), 0, 255).astype(np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """The Y channel of YCrCb, replicated to three channels (float32, [0, 255])."""
    y = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)[..., 0] * 255.0
    return np.repeat(y[..., None], 3, axis=-1)


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """Shift and scale the style's luminance to the content's mean and spread (Gatys 2016)."""
    scale = content_y.std() / max(float(style_y.std()), 1e-6)
    return np.clip((style_y - style_y.mean()) * scale + content_y.mean(), 0, 255)


def with_content_colour(stylised: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The stylised image's luminance with the content's chroma (Cr, Cb)."""
    out = cv2.cvtColor(content.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)
    out[..., 0] = luminance(stylised)[..., 0] / 255.0
    return np.clip(cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB) * 255.0, 0, 255)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round a float RGB image to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
