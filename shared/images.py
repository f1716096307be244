"""Decoding and validating uploaded images; the output formats, and encoding results in them."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Input formats, as Pillow names them when it sniffs the bytes -> the stored file's extension.
INPUT_EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tif",
    "GIF": "gif",
}
ACCEPTED_FORMATS = tuple(INPUT_EXTENSIONS)  # Pillow tries no other format's parser
DEFAULT_MAX_PIXELS = 40_000_000
# Decoding work is bounded by what the file says before a pixel is decompressed: its pixels
# (at most 8 bytes of raw data each, 16-bit RGBA) and, for JPEG, its scans (a progressive file
# re-reads all its coefficients once per scan; ordinary ones have about 10).
MAX_JPEG_SCANS = 100
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})

WHITE = (255, 255, 255)


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
    """Decode ``data`` to an upright RGB uint8 array of shape (H, W, 3), whatever was sent.

    The type is sniffed from the bytes alone. EXIF orientation is applied; CMYK, grey,
    16-bit, palette and alpha images become 8-bit RGB (transparency over white); an animated
    image gives its first frame. Raises ImageError for empty data, non-images, truncated files,
    and images over ``max_pixels`` (checked from the header, before any pixel is decompressed).
    """
    image = open_image(data, max_pixels)
    try:
        image.seek(0)  # an animation's first frame
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("the image file is truncated or corrupt; upload it again") from None
    return np.asarray(to_rgb(image), dtype=np.uint8).copy()


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open ``data`` lazily (header only) as one of the accepted formats, and check the work
    decoding it would take: pixels and (JPEG) scans."""
    if not data:
        raise ImageError("the file is empty; send a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise ImageError("not an image this service can read; send a JPEG, PNG or WebP") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"the image has far more pixels than the limit of {max_pixels}; downscale it first"
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError("the image file is truncated or corrupt; upload it again") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}; downscale it first"
        )
    if image.format == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise ImageError(
            f"the JPEG has more than {MAX_JPEG_SCANS} scans; save it as a baseline JPEG"
        )
    return image


def image_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(height, width)`` of an image from its header alone, with open_image's checks."""
    width, height = open_image(data, max_pixels).size
    return height, width


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit scaled (not clipped), CMYK and grey converted, alpha over white."""
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), mode="L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), mode="L")
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def input_extension(data: bytes) -> str:
    """The stored file's extension for an accepted image, sniffed from its bytes (never a name)."""
    with Image.open(io.BytesIO(data)) as image:
        return INPUT_EXTENSIONS[str(image.format)]


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
