"""Decoding and validating uploaded images; the output formats, and encoding results in them."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageFormat:
    """An output format: its ``output_format`` name, file extensions (usual first), media type."""

    name: str
    extensions: tuple[str, ...]
    media_type: str

    @property
    def extension(self) -> str:
        """The extension given to stored files of this format."""
        return self.extensions[0]


PNG = ImageFormat("png", ("png",), "image/png")
JPEG = ImageFormat("jpeg", ("jpg", "jpeg"), "image/jpeg")
OUTPUT_FORMATS = {fmt.name: fmt for fmt in (PNG, JPEG)}
PREVIEW_FORMAT = PNG


def format_for_path(path: str | PurePath) -> ImageFormat | None:
    """The output format a file name's extension asks for (``.jpg`` -> JPEG), or None."""
    suffix = PurePath(path).suffix.lower().removeprefix(".")
    return next((fmt for fmt in OUTPUT_FORMATS.values() if suffix in fmt.extensions), None)


class ImageError(ValueError):
    """An input is not a usable image; the message says what is wrong and what to send."""


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``data`` to an RGB uint8 array of shape (H, W, 3).

    Raises ImageError for empty data, non-images, truncated files, and images over
    ``max_pixels`` (checked from the header, before any pixel is decompressed).
    """
    if not data:
        raise ImageError("the file is empty; send a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image this service can read; send a JPEG, PNG or WebP") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"the image has far more pixels than the limit of {max_pixels}; downscale it first"
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError("the image file is truncated or corrupt; upload it again") from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageError(f"{image.format} images are not accepted; send a JPEG, PNG or WebP")
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}; downscale it first"
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        raise ImageError("the image file is truncated or corrupt; upload it again") from None
    if image.mode != "RGB":
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        if image.mode == "RGBA":
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            image = background
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode the image file at ``path``; ImageError names the file when it is unusable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return decode_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def encode_image(image: np.ndarray, output_format: str = PNG.name) -> bytes:
    """Encode an RGB uint8 array in one of OUTPUT_FORMATS (JPEG at quality 95)."""
    fmt = OUTPUT_FORMATS.get(output_format.lower())
    if fmt is None:
        raise ValueError(
            f"unknown output format {output_format!r}; use {' or '.join(OUTPUT_FORMATS)}"
        )
    buffer = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB")
    if fmt is PNG:
        pil.save(buffer, format="PNG", optimize=False)
    else:
        pil.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()
