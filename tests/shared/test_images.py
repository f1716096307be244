"""Every image users send (EXIF, CMYK, 16-bit, grey, palette, alpha, animation) decodes to
upright 8-bit RGB; the output-format table: names, extensions and media types, in one place."""

from __future__ import annotations

import io
import typing

import cv2
import numpy as np
import pytest
from PIL import Image

from shared.images import (
    MAX_JPEG_SCANS,
    OUTPUT_FORMATS,
    PREVIEW_FORMAT,
    ImageError,
    decode_image,
    encode_image,
    format_for_path,
    input_extension,
)
from shared.params import JobParams
from tests.support import portrait_photo_bytes


def test_the_table_covers_the_parameter_schema() -> None:
    choices = typing.get_args(JobParams.model_fields["output_format"].annotation)
    assert set(OUTPUT_FORMATS) == set(choices)
    assert PREVIEW_FORMAT in OUTPUT_FORMATS.values()


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_each_format_encodes_as_its_media_type_says(name: str) -> None:
    fmt = OUTPUT_FORMATS[name]
    image = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(encode_image(image, name))) as decoded:
        assert Image.MIME[decoded.format] == fmt.media_type and decoded.size == (20, 12)
    assert format_for_path(f"out.{fmt.extension.upper()}") is fmt


@pytest.mark.parametrize(
    ("path", "name"), [("a.png", "png"), ("b.jpg", "jpeg"), ("c.JPEG", "jpeg"), ("d.webp", None)]
)
def test_format_for_path(path: str, name: str | None) -> None:
    found = format_for_path(path)
    assert (found.name if found else None) == name


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use png or jpeg"):
        encode_image(np.zeros((2, 2, 3), np.uint8), "gif")


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_a_portrait_phone_photo_comes_out_upright() -> None:
    pixels = decode_image(portrait_photo_bytes(20, 40))
    assert pixels.shape == (40, 20, 3)
    assert np.allclose(pixels[2, 10], (255, 0, 0), atol=12), "red on top"
    assert np.allclose(pixels[-3, 10], (0, 0, 255), atol=12), "blue at the bottom"


def test_cmyk_jpeg_becomes_rgb() -> None:
    pixels = decode_image(encoded(Image.new("CMYK", (16, 8), (0, 255, 255, 0)), "JPEG"))
    assert pixels.shape == (8, 16, 3) and np.allclose(pixels[4, 8], (255, 0, 0), atol=12)


def test_sixteen_bit_grey_png_is_scaled_not_clipped() -> None:
    levels = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16).repeat(3, axis=0)
    data = encoded(Image.fromarray(levels), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    pixels = decode_image(data)
    assert pixels.dtype == np.uint8 and pixels[0, :, 0].tolist() == [0, 64, 128, 255]
    assert (pixels[..., 0] == pixels[..., 2]).all()


def test_sixteen_bit_colour_png_becomes_8_bit() -> None:
    bgr = np.zeros((6, 4, 3), dtype=np.uint16)
    bgr[..., 2] = 65535  # red, in OpenCV's channel order
    bgr[..., 1] = 257 * 100
    ok, png = cv2.imencode(".png", bgr)
    assert ok
    assert decode_image(png.tobytes())[0, 0].tolist() == [255, 100, 0]


def test_grey_becomes_three_equal_channels() -> None:
    pixels = decode_image(encoded(Image.new("L", (5, 4), 90), "PNG"))
    assert pixels.shape == (4, 5, 3) and pixels[0, 0].tolist() == [90, 90, 90]


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_flattened_over_white(mode: str) -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 0, 0))  # transparent
    image.putpixel((1, 0), (0, 0, 0, 255))  # opaque black
    image.putpixel((2, 0), (0, 0, 0, 128))  # half transparent black
    pixels = decode_image(encoded(image.convert(mode), "PNG"))
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[0, 1].tolist() == [0, 0, 0]
    assert 120 <= pixels[0, 2, 0] <= 135


def test_a_palette_image_s_transparent_colour_becomes_white() -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    pixels = decode_image(encoded(image, "PNG", transparency=0))
    assert pixels[0, 0].tolist() == [255, 255, 255] and pixels[1, 1].tolist() == [0, 255, 0]


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert decode_image(data)[3, 3].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    ("fmt", "extension"),
    [
        ("PNG", "png"),
        ("JPEG", "jpg"),
        ("WEBP", "webp"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tif"),
    ],
)
def test_the_stored_extension_is_sniffed_from_the_bytes(fmt: str, extension: str) -> None:
    assert input_extension(encoded(Image.new("RGB", (3, 3)), fmt)) == extension


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA", "PPM"])
def test_formats_outside_the_allow_list_are_never_parsed(fmt: str) -> None:
    """Pillow reads these; it is never asked to (only the accepted formats' parsers run)."""
    data = _encoded(Image.new("RGB", (16, 16), (9, 9, 9)), fmt)
    with pytest.raises(ImageError, match="not an image this service can read"):
        decode_image(data)


def test_a_jpeg_with_too_many_scans_is_refused_before_decoding() -> None:
    """A progressive JPEG re-reads its coefficients once per scan: scans bound the work."""
    progressive = _encoded(Image.new("RGB", (64, 64), (200, 10, 10)), "JPEG", progressive=True)
    assert decode_image(progressive).shape == (64, 64, 3)
    head, tail = progressive.rsplit(b"\xff\xd9", 1)
    extra_scans = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * (MAX_JPEG_SCANS + 1)
    with pytest.raises(ImageError, match="more than 100 scans"):
        decode_image(head + extra_scans + b"\xff\xd9" + tail)
